package httpx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
)

// BodyError is a request body refused: the status to answer (400, 413 or
// 415) and the words the client is told.
type BodyError struct {
	Status  int
	Message string
}

func (e *BodyError) Error() string { return "httpx: " + e.Message }

func badBody(format string, args ...any) *BodyError {
	return &BodyError{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// ReadBody reads the whole body of r, checking, in this order, that it
// has at most limit bytes (413 Request Entity Too Large), that it is not
// empty (400), and that its Content-Type is mediaType, parameters aside
// (415 Unsupported Media Type). Its error is a *BodyError.
func ReadBody(w http.ResponseWriter, r *http.Request, mediaType string, limit int64) ([]byte, error) {
	body, err := readAll(w, r, limit)
	if err != nil {
		return nil, err
	}
	if len(body) == 0 {
		return nil, badBody("the request body is empty")
	}
	return body, checkMediaType(r, mediaType)
}

// readAll reads the whole body, at most limit bytes.
func readAll(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	tooLarge := &BodyError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("the body is larger than %d bytes", limit)}
	if r.ContentLength > limit {
		return nil, tooLarge // refused before a byte is read
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, tooLarge
	case err != nil:
		return nil, badBody("the body could not be read")
	}
	return body, nil
}

func checkMediaType(r *http.Request, mediaType string) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != mediaType {
		return &BodyError{Status: http.StatusUnsupportedMediaType, Message: "the body must be " + mediaType}
	}
	return nil
}

// ReadForm reads an application/x-www-form-urlencoded body as ReadBody
// does, and refuses a form that does not parse or names a parameter more
// than once (RFC 6749 §3.1, §3.2). Parameters of the URL's query are not
// read. Its error is a *BodyError.
func ReadForm(w http.ResponseWriter, r *http.Request, limit int64) (url.Values, error) {
	body, err := ReadBody(w, r, MediaForm, limit)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badBody("the body is not a valid form")
	}
	for k, v := range form {
		if len(v) > 1 {
			return nil, badBody("parameter %q is repeated", k)
		}
	}
	return form, nil
}

// DecodeJSON reads an application/json body as ReadBody does and decodes
// it into v with [Decode]. Its error is a *BodyError.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body, err := ReadBody(w, r, MediaJSON, limit)
	if err != nil {
		return err
	}
	return Decode(body, v)
}

// DecodeOptionalJSON is DecodeJSON for a body that may be left out: a
// body of nothing but white space, whatever its media type, is no body
// (present is false and v untouched).
func DecodeOptionalJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) (present bool, err error) {
	body, err := readAll(w, r, limit)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return false, err
	}
	if err := checkMediaType(r, MediaJSON); err != nil {
		return false, err
	}
	return true, Decode(body, v)
}
