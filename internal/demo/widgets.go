package demo

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/httpx"
)

const (
	maxWidgetBody = 64 << 10
	maxWidgetName = 100
	// maxWidgets bounds the in-memory store: widgets are never deleted.
	maxWidgets = 10000
	// maxDelay bounds ?delay_ms=, the simulated slow work.
	maxDelay = 5000
)

// Widget is the demo resource.
type Widget struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedBy string `json:"created_by,omitempty"`
}

// widgetStore is an in-memory widget collection, safe for concurrent use.
// IDs are decimal strings, assigned in order.
type widgetStore struct {
	mu      sync.Mutex
	widgets map[string]Widget
	next    int
	max     int // maxWidgets
}

// newWidgetStore returns a store seeded with two widgets.
func newWidgetStore() *widgetStore {
	s := &widgetStore{widgets: map[string]Widget{}, max: maxWidgets}
	s.add("sprocket", "")
	s.add("gear", "")
	return s
}

// add stores a new widget and returns it; false when the store holds
// maxWidgets already.
func (s *widgetStore) add(name, createdBy string) (Widget, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.widgets) >= s.max {
		return Widget{}, false
	}
	s.next++
	w := Widget{ID: strconv.Itoa(s.next), Name: name, CreatedBy: createdBy}
	s.widgets[w.ID] = w
	return w, true
}

func (s *widgetStore) get(id string) (Widget, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.widgets[id]
	return w, ok
}

// remove deletes the widget id; false when there is none.
func (s *widgetStore) remove(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.widgets[id]
	delete(s.widgets, id)
	return ok
}

// list returns every widget, in numeric order of ID.
func (s *widgetStore) list() []Widget {
	s.mu.Lock()
	ws := make([]Widget, 0, len(s.widgets))
	for _, w := range s.widgets {
		ws = append(ws, w)
	}
	s.mu.Unlock()
	slices.SortFunc(ws, func(a, b Widget) int {
		// Decimal IDs without leading zeros: shorter is smaller.
		return cmp.Or(cmp.Compare(len(a.ID), len(b.ID)), strings.Compare(a.ID, b.ID))
	})
	return ws
}

// delay sleeps for ?delay_ms= milliseconds (0 to 5000), simulating slow
// work, or until the request is cancelled. It writes the error response
// and returns false when the request should go no further.
func (s *server) delay(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	if !q.Has("delay_ms") {
		return true
	}
	ms, err := strconv.Atoi(q.Get("delay_ms"))
	if err != nil || ms < 0 || ms > maxDelay || len(q["delay_ms"]) > 1 {
		httpx.WriteProblem(w, http.StatusBadRequest, "invalid_request", "delay_ms must be one integer from 0 to 5000")
		return false
	}
	if ms == 0 {
		return true
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		httpx.WriteProblem(w, http.StatusServiceUnavailable, "temporarily_unavailable", "request cancelled")
		return false
	}
}

// listWidgets answers GET /api/widgets.
func (s *server) listWidgets(w http.ResponseWriter, r *http.Request) {
	if !s.delay(w, r) {
		return
	}
	httpx.WriteJSON(w, http.StatusOK, struct {
		Widgets []Widget `json:"widgets"`
	}{s.widgets.list()})
}

// getWidget answers GET /api/widgets/{id}.
func (s *server) getWidget(w http.ResponseWriter, r *http.Request) {
	if !s.delay(w, r) {
		return
	}
	wd, ok := s.widgets.get(r.PathValue("id"))
	if !ok {
		httpx.WriteProblem(w, http.StatusNotFound, "not_found", "no such widget")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, wd)
}

// deleteWidget answers DELETE /api/widgets/{id}: 204, or 404. Any
// holder of widgets:write may delete any widget, the seeded ones too: the
// demo's scopes are per action, not per owner (created_by is recorded,
// not enforced).
func (s *server) deleteWidget(w http.ResponseWriter, r *http.Request) {
	p, _ := identity.FromContext(r.Context())
	id := r.PathValue("id")
	if !s.widgets.remove(id) {
		httpx.WriteProblem(w, http.StatusNotFound, "not_found", "no such widget")
		return
	}
	s.log.InfoContext(r.Context(), "widget deleted", "id", id, "sub", p.Subject)
	w.WriteHeader(http.StatusNoContent)
}

type createWidgetRequest struct {
	Name *string `json:"name"`
}

// createWidget answers POST /api/widgets {"name": "…"}: 201 with the new
// widget, which records its creator's subject.
func (s *server) createWidget(w http.ResponseWriter, r *http.Request) {
	p, ok := identity.FromContext(r.Context())
	if !ok { // unreachable behind the middleware
		s.serverError(w, r, "creating a widget", errors.New("no principal in the context"))
		return
	}
	var req createWidgetRequest
	if err := httpx.DecodeJSON(w, r, maxWidgetBody, &req); err != nil {
		bodyProblem(w, err)
		return
	}
	if req.Name == nil {
		httpx.WriteProblem(w, http.StatusBadRequest, "invalid_request", "name is required")
		return
	}
	name := *req.Name
	if !validWidgetName(name) {
		httpx.WriteProblem(w, http.StatusBadRequest, "invalid_request", "name must be 1 to 100 characters, not all blank")
		return
	}
	if !s.delay(w, r) {
		return
	}
	wd, ok := s.widgets.add(name, p.Subject)
	if !ok {
		httpx.WriteProblem(w, http.StatusInsufficientStorage, "store_full", fmt.Sprintf("the demo keeps at most %d widgets", s.widgets.max))
		return
	}
	s.log.InfoContext(r.Context(), "widget created", "id", wd.ID, "sub", p.Subject)
	w.Header().Set("Location", "/api/widgets/"+wd.ID)
	httpx.WriteJSON(w, http.StatusCreated, wd)
}

// validWidgetName reports whether name is 1 to maxWidgetName characters
// of UTF-8, not all blank.
func validWidgetName(name string) bool {
	n := utf8.RuneCountInString(name)
	return n > 0 && n <= maxWidgetName && utf8.ValidString(name) && strings.TrimSpace(name) != ""
}
