package gorilla_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/gorilla/sessions"

	"github.com/sessionless/sessionless/bridge/gorilla"
)

// The API reads the sessions the application's store writes: the same
// store, keys and session name.
func Example() {
	store := sessions.NewCookieStore([]byte("the application's 32-byte hash k"))

	// The application's login: session.Values["user_id"] = 42, then Save.
	r, w := httptest.NewRequest("POST", "/login", nil), httptest.NewRecorder()
	session, _ := store.Get(r, "session")
	session.Values["user_id"] = 42
	if err := session.Save(r, w); err != nil {
		log.Fatal(err)
	}
	cookie := w.Result().Cookies()[0] // what the browser sends from now on

	legacy, err := gorilla.New(store, "session", gorilla.Config{
		Principal: gorilla.UserID("user_id"),
		Scopes:    []string{"widgets:read"},
	})
	if err != nil {
		log.Fatal(err)
	}
	p, err := legacy.Session(context.Background(), cookie.Value)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cookie.Name, p.Subject, p.Method, p.Scopes)

	_, err = legacy.Session(context.Background(), cookie.Value[:20])
	fmt.Println(err != nil)
	// Output:
	// session 42 session [widgets:read]
	// true
}
