package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/sqlschema/schematest"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/revocation/sqlstore"
	"github.com/sessionless/sessionless/revocation/storetest"
)

// fixture is two stores on two handles of one fresh table, as two
// instances would have them, and a third handle for looking at the table
// directly.
type fixture struct {
	a, b  *sqlstore.Store
	raw   *sql.DB
	table string // quoted
}

// pair opens the fixture on b with cfg, whose Dialect and Table it sets.
func pair(t *testing.T, b schematest.Backend, cfg sqlstore.Config) fixture {
	t.Helper()
	open, table := b.Fresh(t, "revocations_test")
	cfg.Dialect, cfg.Table = b.Dialect, table
	s1, s2 := schematest.New(t, sqlstore.New, open(t), cfg), schematest.New(t, sqlstore.New, open(t), cfg)
	return fixture{a: s1, b: s2, raw: open(t), table: `"` + table + `"`}
}

func TestConformance(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		storetest.Run(t, func(t *testing.T) (revocation.Store, revocation.Store) {
			f := pair(t, be, sqlstore.Config{})
			return f.a, f.b
		})
	})
}

// TestConcurrentAddsInOrder adds from many goroutines on two handles
// while one subscription polls as fast as it can: it must deliver every
// entry exactly once, in the order of seq, with none skipped by a poll
// that ran between two out-of-order commits.
func TestConcurrentAddsInOrder(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		f := pair(t, be, sqlstore.Config{PollInterval: time.Millisecond})
		a, b := f.a, f.b
		sub, err := b.Subscribe(context.Background())
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		defer sub.Close()

		const n, workers = 200, 8
		exp := storetest.Base.Add(time.Hour)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for w := range workers {
			s := a
			if w%2 == 1 {
				s = b
			}
			wg.Go(func() {
				for i := w; i < n; i += workers {
					e := revocation.Entry{Kind: revocation.KindToken, Issuer: "iss", Key: fmt.Sprintf("jti-%03d", i), Expires: exp}
					if err := s.Create(context.Background(), e); err != nil {
						errs <- err
					}
				}
			})
		}

		added := make(chan struct{})
		go func() { wg.Wait(); close(errs); close(added) }()
		defer func() { <-added }() // no Add outlives the table

		// Read until a heartbeat that began after every Add returned:
		// by then everything must have been delivered.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var got []string
		for {
			done := false
			select {
			case <-added:
				done = true
			default:
			}
			e, ok, err := sub.Next(ctx, 20*time.Millisecond)
			if err != nil {
				t.Fatalf("Next after %d entries: %v", len(got), err)
			}
			if ok {
				got = append(got, e.Key)
			} else if done {
				break
			}
		}
		for err := range errs {
			t.Fatalf("Create: %v", err)
		}
		if len(got) != n {
			t.Errorf("the subscription delivered %d entries, want %d", len(got), n)
		}

		want := be.Strings(t, f.raw, `SELECT key FROM `+f.table+` ORDER BY seq`)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("delivered %d entries in this order:\n%v\nthe table in seq order has %d:\n%v", len(got), got, len(want), want)
		}
	})
}

func TestClosedDatabase(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		open, table := be.Fresh(t, "revocations_test")
		db := open(t)
		s := schematest.New(t, sqlstore.New, db, sqlstore.Config{Dialect: be.Dialect, Table: table})
		sub, err := s.Subscribe(context.Background())
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		defer sub.Close()
		db.Close()

		ctx := context.Background()
		e := revocation.Entry{Kind: revocation.KindToken, Issuer: "iss", Key: "k", Expires: storetest.Base}
		if err := s.Create(ctx, e); err == nil {
			t.Error("Create on a closed database succeeded")
		}
		if _, err := s.Snapshot(ctx, storetest.Base); err == nil {
			t.Error("Snapshot on a closed database succeeded")
		}
		if _, err := s.Purge(ctx, storetest.Base); err == nil {
			t.Error("Purge on a closed database succeeded")
		}
		if _, err := s.Subscribe(ctx); err == nil {
			t.Error("Subscribe on a closed database succeeded")
		}
		if _, ok, err := sub.Next(ctx, 10*time.Millisecond); err == nil || ok {
			t.Errorf("Next on a closed database = %v, %v; want an error", ok, err)
		}
	})
}

// TestPollInterval: a negative PollInterval is refused before any SQL
// runs (the refusals every store shares are tested with sqlschema.Open).
func TestPollInterval(t *testing.T) {
	db := schematest.SQLite.Open(t)(t)
	_, err := sqlstore.New(context.Background(), db, sqlstore.Config{Dialect: sqlstore.SQLite, PollInterval: -time.Second})
	if err == nil || !strings.HasPrefix(err.Error(), "revocation/sqlstore: ") {
		t.Errorf("New with a negative PollInterval: %v", err)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master`).Scan(&n); err != nil || n != 0 {
		t.Errorf("after a refused config the database has %d objects (%v)", n, err)
	}
}

// TestForeignRows: rows the store cannot decode are skipped by Snapshot
// and by subscriptions, which still deliver the rows after them.
func TestForeignRows(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		f := pair(t, be, sqlstore.Config{PollInterval: 5 * time.Millisecond})
		a := f.a
		sub, err := a.Subscribe(context.Background())
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		defer sub.Close()
		exp := storetest.Base.Add(time.Hour).UnixNano()
		insert := be.Dialect.Rebind(`INSERT INTO ` + f.table + ` (kind, issuer, key, before_ns, expires_ns) VALUES (?, ?, ?, ?, ?)`)
		for _, r := range [][]any{
			{9, "iss", "unknown-kind", 0, exp},
			{-1, "iss", "negative-kind", 0, exp},
			{300, "iss", "huge-kind", 0, exp},
			{1, "iss", "", 0, exp}, // no key
			{1, "iss", strings.Repeat("k", revocation.MaxKeyLen+1), 0, exp},
		} {
			if _, err := f.raw.Exec(insert, r...); err != nil {
				t.Fatalf("inserting %v: %v", r, err)
			}
		}
		good := revocation.Entry{Kind: revocation.KindSubject, Issuer: "iss", Key: "usr",
			Before: storetest.Base, Expires: storetest.Base.Add(time.Hour)}
		if err := a.Create(context.Background(), good); err != nil {
			t.Fatalf("Create: %v", err)
		}
		got, err := a.Snapshot(context.Background(), storetest.Base)
		if err != nil || len(got) != 1 || got[0] != good {
			t.Errorf("Snapshot = %+v, %v; want only %+v", got, err, good)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for {
			e, ok, err := sub.Next(ctx, 50*time.Millisecond)
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if ok {
				if e != good {
					t.Errorf("Next = %+v, want %+v", e, good)
				}
				break
			}
		}
	})
}

// TestTimeRange: times that do not fit the columns are refused as
// invalid, the epoch too (its 0 is a token entry's zero Before); extreme
// instants that fit round-trip.
func TestTimeRange(t *testing.T) {
	f := pair(t, schematest.SQLite, sqlstore.Config{})
	a := f.a
	ctx := context.Background()
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	epoch := time.Unix(0, 0).UTC()
	for _, e := range []revocation.Entry{
		{Kind: revocation.KindToken, Key: "k", Expires: far},
		{Kind: revocation.KindSubject, Key: "k", Before: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), Expires: storetest.Base},
		{Kind: revocation.KindSubject, Key: "k", Before: epoch, Expires: storetest.Base},
		{Kind: revocation.KindToken, Key: "k", Expires: epoch},
	} {
		if err := a.Create(ctx, e); !errors.Is(err, revocation.ErrInvalidEntry) {
			t.Errorf("Create(%+v) = %v, want ErrInvalidEntry", e, err)
		}
	}
	early := revocation.Entry{Kind: revocation.KindSubject, Key: "early", Before: epoch.Add(1), Expires: time.Unix(0, 1<<62).UTC()}
	if err := a.Create(ctx, early); err != nil {
		t.Fatalf("Create: %v", err)
	}
	// A zero now is before everything; a far one after everything.
	if got, err := a.Snapshot(ctx, time.Time{}); err != nil || len(got) != 1 || got[0] != early {
		t.Errorf("Snapshot(zero) = %+v, %v; want [%+v]", got, err, early)
	}
	if got, err := a.Snapshot(ctx, far); err != nil || len(got) != 0 {
		t.Errorf("Snapshot(2300) = %+v, %v; want none", got, err)
	}
	if _, err := a.Purge(ctx, far); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Snapshot(ctx, time.Time{}); err != nil || len(got) != 0 {
		t.Errorf("Snapshot after Purge(2300) = %+v, %v; want none", got, err)
	}
	// An earlier release wrote a subject entry before the epoch's end as
	// before_ns 0: it reads back as the epoch, not lost.
	if _, err := f.raw.Exec(`INSERT INTO `+f.table+` (kind, issuer, key, before_ns, expires_ns) VALUES (2, 'iss', 'old', 0, ?)`,
		storetest.Base.UnixNano()); err != nil {
		t.Fatal(err)
	}
	want := revocation.Entry{Kind: revocation.KindSubject, Issuer: "iss", Key: "old", Before: epoch, Expires: storetest.Base}
	if got, err := a.Snapshot(ctx, time.Time{}); err != nil || len(got) != 1 || got[0] != want {
		t.Errorf("Snapshot of an earlier release's epoch entry = %+v, %v; want [%+v]", got, err, want)
	}
}

func TestSubscriptionClose(t *testing.T) {
	a := pair(t, schematest.SQLite, sqlstore.Config{PollInterval: time.Hour}).a
	sub, err := a.Subscribe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := sub.Next(context.Background(), time.Hour)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	sub.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Next interrupted by Close returned no error")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not interrupt Next")
	}
	if _, _, err := sub.Next(context.Background(), 0); err == nil {
		t.Error("Next after Close returned no error")
	}
	if err := sub.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
