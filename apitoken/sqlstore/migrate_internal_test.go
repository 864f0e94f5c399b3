package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/sessionless/sessionless/apitoken/storetest"
	"github.com/sessionless/sessionless/internal/sqlschema"
	"github.com/sessionless/sessionless/internal/sqlschema/schematest"
)

// TestMigrateFromVersion1: a table of the first release (version 1, no
// cut-offs) gets the cut-offs' table when New opens it, keeping its
// tokens.
func TestMigrateFromVersion1(t *testing.T) {
	schematest.Run(t, func(t *testing.T, b schematest.Backend) {
		ctx := context.Background()
		open, table := b.Fresh(t, "apitoken_v1")
		db := open(t)
		v1 := migrations(b.Dialect, `"`+table+`"`, table)[:1]
		if err := sqlschema.Migrate(ctx, db, b.Dialect, schema.Package+":"+table, v1...); err != nil {
			t.Fatal(err)
		}
		old := newStore(&sqlschema.Table{DB: db, Dialect: b.Dialect, Name: table, Quoted: `"` + table + `"`})
		rec := storetest.NewRecord("alice", storetest.Base)
		if err := old.Create(ctx, rec, 10); err != nil {
			t.Fatal(err)
		}
		if err := old.SetCutoff(ctx, "alice", storetest.Base); err == nil {
			t.Fatal("a version 1 table took a cut-off: the test does not start from version 1")
		}

		s, err := New(ctx, open(t), Config{Dialect: b.Dialect, Table: table})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Get(ctx, rec.ID); err != nil || got.Name != rec.Name {
			t.Fatalf("the token of version 1: %+v, %v", got, err)
		}
		at := storetest.Base.Add(time.Nanosecond)
		if err := s.SetCutoff(ctx, "alice", at); err != nil {
			t.Fatal(err)
		}
		if c, err := s.Cutoff(ctx, "alice"); err != nil || !c.Equal(at) {
			t.Fatalf("Cutoff = %v, %v; want %v", c, err, at)
		}
	})
}
