package zitadel_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"testing"
)

// The example provider's login page: a form posting the username, the
// password and the id of the authorization request.
var (
	formAction = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	formID     = regexp.MustCompile(`name="id" value="([^"]+)"`)
)

// loginForm answers the example's login page (the response resp) with the
// user's name and password, and returns the answer to the form.
func loginForm(t *testing.T, c *http.Client, resp *http.Response) *http.Response {
	t.Helper()
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := formAction.FindSubmatch(page)
	id := formID.FindSubmatch(page)
	if resp.StatusCode != 200 || m == nil || id == nil {
		t.Fatalf("the login page: %d %s", resp.StatusCode, page)
	}
	action, _ := url.Parse(string(m[1]))
	resp, err := c.PostForm(resp.Request.URL.ResolveReference(action).String(),
		url.Values{"username": {username}, "password": {password}, "id": {string(id[1])}})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
