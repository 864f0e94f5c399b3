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

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/revocation/sqlstore"
	"github.com/sessionless/sessionless/revocation/storetest"
)

// backends are the databases the tests run on. open prepares a database
// for one test and returns a function opening handles on it, each closed
// at the end of the test.
var backends = []struct {
	name    string
	dialect sqlstore.Dialect
	open    func(t testing.TB) testenv.DBOpener
}{
	{"SQLite", sqlstore.SQLite, testenv.SQLiteDB},
	{"Postgres", sqlstore.Postgres, testenv.SharedPostgres},
}

func newStore(t *testing.T, db *sql.DB, cfg sqlstore.Config) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.New(context.Background(), db, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// fixture is two stores on two handles of one fresh table, as two
// instances would have them, and a third handle for looking at the table
// directly.
type fixture struct {
	a, b  *sqlstore.Store
	raw   *sql.DB
	table string // quoted
}

func pair(t *testing.T, open func(testing.TB) testenv.DBOpener, cfg sqlstore.Config) fixture {
	t.Helper()
	conn := open(t)
	cfg.Table = testenv.UniqueTable("revocations_test")
	dbA, dbB := conn(t), conn(t)
	a := newStore(t, dbA, cfg)
	testenv.DropTableAtEnd(t, dbA, cfg.Table)
	b := newStore(t, dbB, cfg)
	return fixture{a: a, b: b, raw: conn(t), table: `"` + cfg.Table + `"`}
}

func TestConformance(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) (revocation.Store, revocation.Store) {
				f := pair(t, be.open, sqlstore.Config{Dialect: be.dialect})
				return f.a, f.b
			})
		})
	}
}

// TestConcurrentAddsInOrder adds from many goroutines on two handles
// while one subscription polls as fast as it can: it must deliver every
// entry exactly once, in the order of seq, with none skipped by a poll
// that ran between two out-of-order commits.
func TestConcurrentAddsInOrder(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f := pair(t, be.open, sqlstore.Config{Dialect: be.dialect, PollInterval: time.Millisecond})
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
				t.Fatalf("Add: %v", err)
			}
			if len(got) != n {
				t.Errorf("the subscription delivered %d entries, want %d", len(got), n)
			}

			rows, err := f.raw.Query(`SELECT key FROM ` + f.table + ` ORDER BY seq`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var want []string
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					t.Fatal(err)
				}
				want = append(want, k)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("delivered %d entries in this order:\n%v\nthe table in seq order has %d:\n%v", len(got), got, len(want), want)
			}
		})
	}
}

func TestClosedDatabase(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			conn := be.open(t)
			table := testenv.UniqueTable("revocations_test")
			keep := conn(t)
			db := conn(t)
			s := newStore(t, db, sqlstore.Config{Dialect: be.dialect, Table: table})
			testenv.DropTableAtEnd(t, keep, table)
			sub, err := s.Subscribe(context.Background())
			if err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			defer sub.Close()
			db.Close()

			ctx := context.Background()
			e := revocation.Entry{Kind: revocation.KindToken, Issuer: "iss", Key: "k", Expires: storetest.Base}
			if err := s.Create(ctx, e); err == nil {
				t.Error("Add on a closed database succeeded")
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
			if _, err := sqlstore.New(ctx, db, sqlstore.Config{Dialect: be.dialect, Table: table}); err == nil {
				t.Error("New on a closed database succeeded")
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	db := testenv.SQLiteDB(t)(t)
	ctx := context.Background()
	for _, name := range []string{
		"Revocations", "1st", "a-b", "a b", "a;drop table users", `a"b`, "a.b", "ré", "revocations\x00",
		strings.Repeat("a", 64),
	} {
		if _, err := sqlstore.New(ctx, db, sqlstore.Config{Dialect: sqlstore.SQLite, Table: name}); err == nil {
			t.Errorf("New accepted the table name %q", name)
		}
	}
	for _, cfg := range []sqlstore.Config{
		{},
		{Dialect: 3},
		{Dialect: sqlstore.SQLite, PollInterval: -time.Second},
	} {
		if _, err := sqlstore.New(ctx, db, cfg); err == nil {
			t.Errorf("New accepted %+v", cfg)
		}
	}
	if _, err := sqlstore.New(ctx, nil, sqlstore.Config{Dialect: sqlstore.SQLite}); err == nil {
		t.Error("New accepted a nil *sql.DB")
	}
	// Nothing was created.
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master`).Scan(&n); err != nil || n != 0 {
		t.Errorf("after refused configs the database has %d objects (%v)", n, err)
	}
}

// TestNewIdempotent runs New several times, at once, on one database, with
// the default table name, a long one and a keyword.
func TestNewIdempotent(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			conn := be.open(t)
			suffix := testenv.UniqueTable("revocations_test")[len("revocations_test_"):]
			for _, table := range []string{
				"", // the default
				"order_" + suffix,
				"t_" + suffix + strings.Repeat("x", 63-len("t_")-len(suffix)),
			} {
				name := table
				if name == "" {
					if be.dialect == sqlstore.Postgres {
						continue // the shared server may hold a real one
					}
					name = sqlstore.DefaultTable
				}
				cfg := sqlstore.Config{Dialect: be.dialect, Table: table}
				db1, db2 := conn(t), conn(t)
				testenv.DropTableAtEnd(t, db1, name)
				var wg sync.WaitGroup
				errs := make(chan error, 8)
				for i := range 8 {
					db := db1
					if i%2 == 1 {
						db = db2
					}
					wg.Go(func() {
						_, err := sqlstore.New(context.Background(), db, cfg)
						errs <- err
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatalf("concurrent New(%q): %v", name, err)
					}
				}
				s1 := newStore(t, db1, cfg)
				e := revocation.Entry{Kind: revocation.KindToken, Issuer: "iss", Key: "k", Expires: storetest.Base}
				if err := s1.Create(context.Background(), e); err != nil {
					t.Fatalf("Add: %v", err)
				}
				// A later New keeps the rows.
				s2 := newStore(t, db2, cfg)
				got, err := s2.Snapshot(context.Background(), storetest.Base.Add(-time.Second))
				if err != nil || len(got) != 1 || got[0] != e {
					t.Errorf("%s: Snapshot after a second New = %+v, %v; want [%+v]", name, got, err, e)
				}
			}
		})
	}
}

// TestForeignRows: rows the store cannot decode are skipped by Snapshot
// and by subscriptions, which still deliver the rows after them.
func TestForeignRows(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f := pair(t, be.open, sqlstore.Config{Dialect: be.dialect, PollInterval: 5 * time.Millisecond})
			a := f.a
			sub, err := a.Subscribe(context.Background())
			if err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			defer sub.Close()
			exp := storetest.Base.Add(time.Hour).UnixNano()
			insert := `INSERT INTO ` + f.table + ` (kind, issuer, key, before_ns, expires_ns) VALUES (?, ?, ?, ?, ?)`
			if be.dialect == sqlstore.Postgres {
				insert = strings.NewReplacer("?, ?, ?, ?, ?", "$1, $2, $3, $4, $5").Replace(insert)
			}
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
				t.Fatalf("Add: %v", err)
			}
			got, err := a.Snapshot(context.Background(), storetest.Base)
			if err != nil || len(got) != 1 || got[0] != good {
				t.Errorf("Snapshot = %+v, %v; want only %+v", got, err, good)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
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
}

// TestTimeRange: times that do not fit int64 nanoseconds are refused as
// invalid; extreme instants that fit round-trip.
func TestTimeRange(t *testing.T) {
	a := pair(t, testenv.SQLiteDB, sqlstore.Config{Dialect: sqlstore.SQLite}).a
	ctx := context.Background()
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range []revocation.Entry{
		{Kind: revocation.KindToken, Key: "k", Expires: far},
		{Kind: revocation.KindSubject, Key: "k", Before: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), Expires: storetest.Base},
	} {
		if err := a.Create(ctx, e); !errors.Is(err, revocation.ErrInvalidEntry) {
			t.Errorf("Add(%+v) = %v, want ErrInvalidEntry", e, err)
		}
	}
	epoch := revocation.Entry{Kind: revocation.KindSubject, Key: "epoch", Before: time.Unix(0, 0).UTC(), Expires: time.Unix(0, 1<<62).UTC()}
	if err := a.Create(ctx, epoch); err != nil {
		t.Fatalf("Add: %v", err)
	}
	// A zero now is before everything; a far one after everything.
	if got, err := a.Snapshot(ctx, time.Time{}); err != nil || len(got) != 1 || got[0] != epoch {
		t.Errorf("Snapshot(zero) = %+v, %v; want [%+v]", got, err, epoch)
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
}

func TestSubscriptionClose(t *testing.T) {
	a := pair(t, testenv.SQLiteDB, sqlstore.Config{Dialect: sqlstore.SQLite, PollInterval: time.Hour}).a
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
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt Next")
	}
	if _, _, err := sub.Next(context.Background(), 0); err == nil {
		t.Error("Next after Close returned no error")
	}
	if err := sub.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
