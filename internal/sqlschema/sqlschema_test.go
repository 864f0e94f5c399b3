package sqlschema_test

import (
	"strings"
	"testing"

	"github.com/sessionless/sessionless/internal/sqlschema"
)

func TestCheckTable(t *testing.T) {
	for _, ok := range []string{"revocations", "_t", "t1_2", strings.Repeat("a", 63)} {
		if err := sqlschema.CheckTable(ok); err != nil {
			t.Errorf("CheckTable(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1t", "T", "a-b", "a b", `a"b`, "a;b", "ä", strings.Repeat("a", 64)} {
		if sqlschema.CheckTable(bad) == nil {
			t.Errorf("CheckTable(%q) accepted it", bad)
		}
	}
}

func TestIndexName(t *testing.T) {
	if got := sqlschema.IndexName("revocations", "expires"); got != "revocations_expires_idx" {
		t.Errorf("short name: %q", got)
	}
	a, b := sqlschema.IndexName(strings.Repeat("a", 63), "family"), sqlschema.IndexName(strings.Repeat("a", 62)+"b", "family")
	if len(a) > sqlschema.MaxNameLen || len(b) > sqlschema.MaxNameLen || a == b || !strings.HasSuffix(a, "_family_idx") {
		t.Errorf("long names %q and %q: want distinct, at most 63 characters, ending in _family_idx", a, b)
	}
}

func TestRebind(t *testing.T) {
	q := "INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT (a) DO NOTHING"
	if got := sqlschema.SQLite.Rebind(q); got != q {
		t.Errorf("SQLite.Rebind = %q, want the query unchanged", got)
	}
	want := "INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT (a) DO NOTHING"
	if got := sqlschema.Postgres.Rebind(q); got != want {
		t.Errorf("Postgres.Rebind = %q, want %q", got, want)
	}
}
