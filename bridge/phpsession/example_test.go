package phpsession_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionless/sessionless/bridge/phpsession"
	"github.com/sessionless/sessionless/identity"
)

// A Go service reads the sessions a PHP application writes to its
// session.save_path, and finds who is logged in.
func Example() {
	dir, _ := os.MkdirTemp("", "sessions")
	defer os.RemoveAll(dir)
	// What PHP writes for $_SESSION['user_id'] = 42; $_SESSION['roles'] = ['admin'];
	os.WriteFile(filepath.Join(dir, "sess_q8mv0s3c5dd1l6tbg8a2u7k0rj"),
		[]byte(`user_id|i:42;roles|a:1:{i:0;s:5:"admin";}`), 0o600)

	files, err := phpsession.NewFiles(phpsession.FilesConfig{Dir: dir, MaxLifetime: 1440 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	sessions, err := phpsession.New(files, phpsession.Config{
		Principal: phpsession.UserID("user_id"),
		Scopes:    []string{"widgets:read"},
	})
	if err != nil {
		log.Fatal(err)
	}
	p, err := sessions.Session(context.Background(), "q8mv0s3c5dd1l6tbg8a2u7k0rj") // the PHPSESSID cookie
	if err != nil {
		log.Fatal(err)
	}
	roles, _ := p.Claims.(phpsession.Array).Get("roles")
	fmt.Println(p.Subject, p.Method, p.Scopes, roles)

	_, err = sessions.Session(context.Background(), "../../etc/passwd")
	fmt.Println(err)
	// Output:
	// 42 session [widgets:read] [{0 admin}]
	// phpsession: no live session: not a session id
}

// A principal of one's own: the subject, scopes and roles from the
// session's variables.
func ExampleConfig_principal() {
	mapping := func(vars phpsession.Array) (*identity.Principal, error) {
		p, err := phpsession.UserID("user_id")(vars)
		if err != nil {
			return nil, err
		}
		if roles, ok := vars.Get("roles"); ok {
			list, _ := roles.(phpsession.Array)
			for _, e := range list {
				if r, ok := e.Value.(string); ok {
					p.Roles = append(p.Roles, r)
				}
			}
		}
		if p.HasRole("admin") {
			p.Scopes = []string{"widgets:read", "widgets:write"}
		}
		return p, nil
	}
	vars, _ := phpsession.Decode([]byte(`user_id|s:7:"usr_ann";roles|a:1:{i:0;s:5:"admin";}`), phpsession.FormatPHP, phpsession.Limits{})
	p, _ := mapping(vars)
	fmt.Println(p.Subject, p.Roles, p.Scopes)
	// Output:
	// usr_ann [admin] [widgets:read widgets:write]
}
