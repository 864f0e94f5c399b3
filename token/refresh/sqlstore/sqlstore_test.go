package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/sessionless/sessionless/internal/sqlschema"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/token/refresh"
	"github.com/sessionless/sessionless/token/refresh/sqlstore"
	"github.com/sessionless/sessionless/token/refresh/storetest"
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
	a, b    *sqlstore.Store
	raw     *sql.DB
	table   string // quoted
	dialect sqlstore.Dialect
}

func pair(t *testing.T, open func(testing.TB) testenv.DBOpener, d sqlstore.Dialect) fixture {
	t.Helper()
	conn := open(t)
	cfg := sqlstore.Config{Dialect: d, Table: testenv.UniqueTable("refresh_test")}
	dbA, dbB := conn(t), conn(t)
	a := newStore(t, dbA, cfg)
	testenv.DropTableAtEnd(t, dbA, cfg.Table)
	b := newStore(t, dbB, cfg)
	return fixture{a: a, b: b, raw: conn(t), table: `"` + cfg.Table + `"`, dialect: d}
}

// exec runs q, written with ? placeholders, on the raw handle.
func (f fixture) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if f.dialect == sqlstore.Postgres {
		n := 0
		var b strings.Builder
		for _, r := range q {
			if r == '?' {
				n++
				fmt.Fprintf(&b, "$%d", n)
				continue
			}
			b.WriteRune(r)
		}
		q = b.String()
	}
	if _, err := f.raw.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestConformance(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) (refresh.Store, refresh.Store) {
				f := pair(t, be.open, be.dialect)
				return f.a, f.b
			})
		})
	}
}

// TestConcurrentRevokeFamily revokes one family from many goroutines on
// two handles: every access token is returned exactly once.
// TestRotationRacingRevocation: rotations of a family racing its
// revocation (or its subject's) never leave a live token in it.
func TestRotationRacingRevocation(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f := pair(t, be.open, be.dialect)
			ctx := context.Background()
			for round := range 40 {
				r := storetest.NewRecord("usr_race", storetest.Base)
				if err := f.a.Create(ctx, r); err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				var last refresh.Record
				wg.Go(func() { // a client rotating as fast as it can
					cur := r
					for i := range 20 {
						at := storetest.Base.Add(time.Duration(i+1) * time.Second)
						next := storetest.Successor(cur, at)
						if err := f.b.Rotate(ctx, cur.Hash, at, next); err != nil {
							if !errors.Is(err, refresh.ErrRevoked) {
								t.Errorf("Rotate: %v", err)
							}
							break
						}
						cur = next
					}
					last = cur
				})
				wg.Go(func() {
					var err error
					if round%2 == 0 {
						_, err = f.a.RevokeFamily(ctx, r.Family, storetest.Base.Add(time.Hour))
					} else {
						err = f.a.RevokeSubject(ctx, "usr_race", storetest.Base.Add(time.Hour))
					}
					if err != nil {
						t.Errorf("revoking: %v", err)
					}
				})
				wg.Wait()
				if got, err := f.a.Get(ctx, last.Hash); err != nil || got.RevokedAt.IsZero() {
					t.Fatalf("round %d: the family's newest token survived its revocation: %+v, %v", round, got, err)
				}
			}
		})
	}
}

func TestConcurrentRevokeFamily(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f := pair(t, be.open, be.dialect)
			ctx := context.Background()
			r := storetest.NewRecord("usr_1", storetest.Base)
			if err := f.a.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			want := []string{r.Access.ID}
			for i := range 5 {
				at := storetest.Base.Add(time.Duration(i+1) * time.Minute)
				next := storetest.Successor(r, at)
				if err := f.b.Rotate(ctx, r.Hash, at, next); err != nil {
					t.Fatal(err)
				}
				r = next
				want = append(want, r.Access.ID)
			}
			const n = 16
			var wg sync.WaitGroup
			slices.Sort(want)
			for i := range n {
				s := f.a
				if i%2 == 1 {
					s = f.b
				}
				wg.Go(func() {
					access, err := s.RevokeFamily(ctx, r.Family, storetest.Base.Add(time.Hour))
					if err != nil {
						t.Errorf("RevokeFamily: %v", err)
					}
					var got []string
					for _, a := range access {
						got = append(got, a.ID)
					}
					slices.Sort(got)
					if !slices.Equal(got, want) {
						t.Errorf("a concurrent RevokeFamily returned %v, want all of %v", got, want)
					}
				})
			}
			wg.Wait()
		})
	}
}

// TestAgainstMemory runs random operations on a MemoryStore and on the
// SQL store and compares what they answer.
func TestAgainstMemory(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f := pair(t, be.open, be.dialect)
			mem := refresh.NewMemoryStore()
			ctx := context.Background()
			rng := mrand.New(mrand.NewPCG(1, 2))
			at := func() time.Time {
				if rng.IntN(20) == 0 {
					return time.Time{}
				}
				return storetest.Base.Add(time.Duration(rng.IntN(40*24)-20*24) * time.Hour)
			}
			// fix clears an access token expiry derived from a zero time:
			// the store refuses times before 1970.
			fix := func(r refresh.Record) refresh.Record {
				if r.Access.ExpiresAt.Year() < 1970 {
					r.Access.ExpiresAt = time.Time{}
				}
				return r
			}
			var recs []refresh.Record   // everything ever tried, for Get
			var stored []refresh.Record // what was stored, to pick from
			pick := func() refresh.Record {
				if len(stored) == 0 || rng.IntN(10) == 0 {
					return fix(storetest.NewRecord("usr_x", at()))
				}
				// Mostly recent records, so that families live on.
				return stored[len(stored)-1-min(rng.IntN(len(stored)), rng.IntN(8))]
			}
			subjects := []string{"usr_a", "usr_b", "usr_c"}
			kind := func(err error) string {
				for _, e := range []error{refresh.ErrNotFound, refresh.ErrSpent, refresh.ErrRevoked, refresh.ErrExists} {
					if errors.Is(err, e) {
						return e.Error()
					}
				}
				if err != nil {
					return "unexpected: " + err.Error()
				}
				return "ok"
			}
			outcomes := map[string]int{}
			defer func() { t.Logf("outcomes: %v", outcomes) }()
			for step := range 400 {
				var op string
				var m, s string
				switch rng.IntN(16) {
				case 0, 1, 2, 3:
					r := fix(storetest.NewRecord(subjects[rng.IntN(len(subjects))], at()))
					if rng.IntN(8) == 0 {
						r = pick() // an existing hash
					}
					op = "Create"
					m, s = kind(mem.Create(ctx, r)), kind(f.a.Create(ctx, r))
					recs = append(recs, r)
					if m == "ok" {
						stored = append(stored, r)
					}
				case 4, 5, 6, 7, 8, 9, 10:
					old := pick()
					now := at()
					next := fix(storetest.Successor(old, now))
					if rng.IntN(10) == 0 {
						next.Hash = pick().Hash
					}
					op = "Rotate"
					m, s = kind(mem.Rotate(ctx, old.Hash, now, next)), kind(f.b.Rotate(ctx, old.Hash, now, next))
					recs = append(recs, next)
					if m == "ok" {
						stored = append(stored, next)
					}
				case 11, 12:
					fam := pick().Family
					now := at()
					ma, merr := mem.RevokeFamily(ctx, fam, now)
					sa, serr := f.a.RevokeFamily(ctx, fam, now)
					op = "RevokeFamily"
					m, s = kind(merr), kind(serr)
					ids := func(as []refresh.AccessToken) []string {
						var out []string
						for _, a := range as {
							out = append(out, a.ID+"@"+a.ExpiresAt.String())
						}
						slices.Sort(out)
						return out
					}
					if mi, si := ids(ma), ids(sa); !slices.Equal(mi, si) {
						t.Fatalf("step %d: RevokeFamily returned %v, the MemoryStore %v", step, si, mi)
					}
				case 13:
					sub := subjects[rng.IntN(len(subjects))]
					now := at()
					op = "RevokeSubject"
					m, s = kind(mem.RevokeSubject(ctx, sub, now)), kind(f.b.RevokeSubject(ctx, sub, now))
				case 14, 15:
					c, u := at().Add(-15*24*time.Hour), at().Add(-5*24*time.Hour)
					op = "Purge"
					mn, merr := mem.Purge(ctx, c, u)
					sn, serr := f.a.Purge(ctx, c, u)
					m, s = fmt.Sprint(kind(merr), " ", mn), fmt.Sprint(kind(serr), " ", sn)
				}
				if m != s {
					t.Fatalf("step %d: %s = %s, the MemoryStore says %s", step, op, s, m)
				}
				outcomes[op+": "+m]++
				if step%20 != 19 {
					continue
				}
				for _, r := range recs {
					mr, merr := mem.Get(ctx, r.Hash)
					sr, serr := f.b.Get(ctx, r.Hash)
					if kind(merr) != kind(serr) {
						t.Fatalf("step %d, after %s: Get = %v, the MemoryStore says %v", step, op, serr, merr)
					}
					if merr == nil && !sameRecord(mr, sr) {
						t.Fatalf("step %d, after %s: Get = %+v\nthe MemoryStore has %+v", step, op, sr, mr)
					}
				}
			}
		})
	}
}

func sameRecord(a, b refresh.Record) bool {
	return a.Hash == b.Hash && a.Family == b.Family && a.Grant == b.Grant &&
		a.FamilyCreated.Equal(b.FamilyCreated) && a.IssuedAt.Equal(b.IssuedAt) &&
		a.SpentAt.Equal(b.SpentAt) && a.RevokedAt.Equal(b.RevokedAt) &&
		a.Access.Issuer == b.Access.Issuer && a.Access.ID == b.Access.ID && a.Access.ExpiresAt.Equal(b.Access.ExpiresAt) &&
		a.FamilyCreated.IsZero() == b.FamilyCreated.IsZero() && a.IssuedAt.IsZero() == b.IssuedAt.IsZero() &&
		a.Access.ExpiresAt.IsZero() == b.Access.ExpiresAt.IsZero()
}

// TestZeroTimes: zero times round-trip as zero times, and the store
// refuses the times its columns cannot hold, storing nothing.
func TestZeroTimes(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f := pair(t, be.open, be.dialect)
			ctx := context.Background()
			r := storetest.NewRecord("usr", time.Time{})
			r.Access = refresh.AccessToken{}
			if err := f.a.Create(ctx, r); err != nil {
				t.Fatalf("Create: %v", err)
			}
			got, err := f.b.Get(ctx, r.Hash)
			if err != nil || !sameRecord(got, r) || !got.IssuedAt.IsZero() || !got.Access.ExpiresAt.IsZero() {
				t.Errorf("Get = %+v, %v; want %+v", got, err, r)
			}

			for _, bad := range []time.Time{
				time.Unix(0, 0),
				time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
				time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
			} {
				r := storetest.NewRecord("usr", storetest.Base)
				r.Access.ExpiresAt = bad
				if err := f.a.Create(ctx, r); err == nil {
					t.Errorf("Create with a time of %v succeeded", bad)
				}
				if _, err := f.a.Get(ctx, r.Hash); !errors.Is(err, refresh.ErrNotFound) {
					t.Errorf("a refused Create stored its record: %v", err)
				}
				good := storetest.NewRecord("usr", storetest.Base)
				if err := f.a.Create(ctx, good); err != nil {
					t.Fatal(err)
				}
				if err := f.a.Rotate(ctx, good.Hash, bad, storetest.Successor(good, storetest.Base)); err == nil {
					t.Errorf("Rotate at %v succeeded", bad)
				}
				if _, err := f.a.RevokeFamily(ctx, good.Family, bad); err == nil {
					t.Errorf("RevokeFamily at %v succeeded", bad)
				}
				if err := f.a.RevokeSubject(ctx, "usr", bad); err == nil {
					t.Errorf("RevokeSubject at %v succeeded", bad)
				}
				if got, err := f.a.Get(ctx, good.Hash); err != nil || !sameRecord(got, good) {
					t.Errorf("refused calls changed the record: %+v, %v", got, err)
				}
			}

			// Purge thresholds out of the range of the columns work.
			if _, err := f.a.Purge(ctx, time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
				t.Fatal(err)
			}
			if _, err := f.a.Get(ctx, r.Hash); err != nil {
				t.Errorf("Purge before year 1 deleted a record of year 1: %v", err)
			}
			if _, err := f.a.Purge(ctx, time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.a.Get(ctx, r.Hash); !errors.Is(err, refresh.ErrNotFound) {
				t.Errorf("Purge(1960) kept a record of year 1: %v", err)
			}
			if _, err := f.a.Purge(ctx, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := f.raw.QueryRow(`SELECT COUNT(*) FROM ` + f.table).Scan(&n); err != nil || n != 0 {
				t.Errorf("after Purge(3000) the table has %d rows (%v)", n, err)
			}
		})
	}
}

// TestForeignRows: rows the store did not write (by hand, or by a newer
// version) give errors or odd values, never panics.
func TestForeignRows(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f := pair(t, be.open, be.dialect)
			ctx := context.Background()
			insert := `INSERT INTO ` + f.table + ` (hash, family, subject, client_id, scope, family_created_ns, issued_ns,
spent_ns, access_issuer, access_id, access_expires_ns) VALUES (?, ?, 'usr', 'c', 's', ?, ?, ?, 'iss', 'jti', ?)`

			// A hash of the wrong length is a row no Get finds, but the
			// statements over families still handle it.
			short := refresh.HashToken("short")
			f.exec(t, insert, short[:31], "fam_short", 1, 1, 0, 1)
			if _, err := f.a.Get(ctx, short); !errors.Is(err, refresh.ErrNotFound) {
				t.Errorf("Get of a hash stored truncated = %v, want ErrNotFound", err)
			}
			if got, err := f.a.RevokeFamily(ctx, "fam_short", storetest.Base); err != nil || len(got) != 1 {
				t.Errorf("RevokeFamily of a family with a short hash = %+v, %v", got, err)
			}

			// Extreme and negative nanoseconds decode.
			odd := refresh.HashToken("odd")
			f.exec(t, insert, odd[:], "fam_odd", int64(-1<<63), int64(1<<63-1), int64(-5), int64(1<<63-1))
			rec, err := f.a.Get(ctx, odd)
			if err != nil || rec.SpentAt.IsZero() || rec.FamilyCreated.Year() != 1677 {
				t.Errorf("Get of a row with extreme times = %+v, %v", rec, err)
			}
			if err := f.a.Rotate(ctx, odd, storetest.Base, storetest.NewRecord("usr", storetest.Base)); !errors.Is(err, refresh.ErrSpent) {
				t.Errorf("Rotate of a row spent at a negative time = %v, want ErrSpent", err)
			}
			if _, err := f.a.Purge(ctx, storetest.Base, storetest.Base); err != nil {
				t.Errorf("Purge: %v", err)
			}
			if _, err := f.a.Get(ctx, odd); !errors.Is(err, refresh.ErrNotFound) {
				t.Errorf("Purge kept a family created in 1677: %v", err)
			}

			if be.dialect != sqlstore.SQLite {
				return
			}
			// SQLite columns hold any type: text where a number belongs is
			// an error.
			bad := refresh.HashToken("bad")
			f.exec(t, insert, bad[:], "fam_bad", 1, "soon", 0, "later")
			if _, err := f.a.Get(ctx, bad); err == nil || errors.Is(err, refresh.ErrNotFound) {
				t.Errorf("Get of a row with text times = %v, want an error", err)
			}
			if _, err := f.a.RevokeFamily(ctx, "fam_bad", storetest.Base); err == nil {
				t.Error("RevokeFamily of a row with a text expiry succeeded")
			}
			// ... and revoked nothing: the transaction rolled back.
			var revoked int64
			if err := f.raw.QueryRow(`SELECT revoked_ns FROM ` + f.table + ` WHERE family = 'fam_bad'`).Scan(&revoked); err != nil || revoked != 0 {
				t.Errorf("a failed RevokeFamily left revoked_ns = %d (%v)", revoked, err)
			}
		})
	}
}

// TestPostgresText: PostgreSQL text holds no NUL bytes nor invalid UTF-8.
// Storing them fails; looking them up finds nothing, as in a MemoryStore.
func TestPostgresText(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f := pair(t, be.open, be.dialect)
			ctx := context.Background()
			for _, s := range []string{"a\x00b", "\xff"} {
				r := storetest.NewRecord(s, storetest.Base)
				err := f.a.Create(ctx, r)
				if be.dialect == sqlstore.Postgres {
					if err == nil {
						t.Errorf("Create with subject %q succeeded", s)
					}
				} else if err != nil {
					t.Errorf("Create with subject %q: %v", s, err)
				} else if got, err := f.a.Get(ctx, r.Hash); err != nil || got.Grant.Subject != s {
					t.Errorf("Get = %q, %v; want subject %q", got.Grant.Subject, err, s)
				}
				if be.dialect == sqlstore.Postgres {
					if got, err := f.a.RevokeFamily(ctx, s, storetest.Base); err != nil || len(got) != 0 {
						t.Errorf("RevokeFamily(%q) = %+v, %v; want nothing", s, got, err)
					}
					if err := f.a.RevokeSubject(ctx, s, storetest.Base); err != nil {
						t.Errorf("RevokeSubject(%q): %v", s, err)
					}
					next := storetest.Successor(storetest.NewRecord("usr", storetest.Base), storetest.Base)
					next.Family = s
					if err := f.a.Rotate(ctx, r.Hash, storetest.Base, next); err == nil {
						t.Errorf("Rotate to family %q succeeded", s)
					}
				}
			}
		})
	}
}

func TestClosedDatabase(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			conn := be.open(t)
			table := testenv.UniqueTable("refresh_test")
			keep := conn(t)
			db := conn(t)
			s := newStore(t, db, sqlstore.Config{Dialect: be.dialect, Table: table})
			testenv.DropTableAtEnd(t, keep, table)
			db.Close()

			ctx := context.Background()
			r := storetest.NewRecord("usr", storetest.Base)
			if err := s.Create(ctx, r); err == nil {
				t.Error("Create on a closed database succeeded")
			}
			if _, err := s.Get(ctx, r.Hash); err == nil || errors.Is(err, refresh.ErrNotFound) {
				t.Errorf("Get on a closed database = %v, want an error other than ErrNotFound", err)
			}
			if err := s.Rotate(ctx, r.Hash, storetest.Base, storetest.Successor(r, storetest.Base)); err == nil {
				t.Error("Rotate on a closed database succeeded")
			}
			if _, err := s.RevokeFamily(ctx, r.Family, storetest.Base); err == nil {
				t.Error("RevokeFamily on a closed database succeeded")
			}
			if err := s.RevokeSubject(ctx, "usr", storetest.Base); err == nil {
				t.Error("RevokeSubject on a closed database succeeded")
			}
			if _, err := s.Purge(ctx, storetest.Base, storetest.Base); err == nil {
				t.Error("Purge on a closed database succeeded")
			}
			if _, err := sqlstore.New(ctx, db, sqlstore.Config{Dialect: be.dialect, Table: table}); err == nil {
				t.Error("New on a closed database succeeded")
			}
		})
	}
}

func TestCanceledContext(t *testing.T) {
	f := pair(t, testenv.SQLiteDB, sqlstore.SQLite)
	ctx, cancel := context.WithCancel(context.Background())
	r := storetest.NewRecord("usr", storetest.Base)
	if err := f.a.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := f.a.Rotate(ctx, r.Hash, storetest.Base, storetest.Successor(r, storetest.Base)); !errors.Is(err, context.Canceled) {
		t.Errorf("Rotate with a canceled context = %v", err)
	}
	if _, err := f.a.RevokeFamily(ctx, r.Family, storetest.Base); !errors.Is(err, context.Canceled) {
		t.Errorf("RevokeFamily with a canceled context = %v", err)
	}
	if got, err := f.a.Get(context.Background(), r.Hash); err != nil || !sameRecord(got, r) {
		t.Errorf("calls with a canceled context changed the record: %+v, %v", got, err)
	}
}

func TestBadConfig(t *testing.T) {
	db := testenv.SQLiteDB(t)(t)
	ctx := context.Background()
	for _, name := range []string{
		"Refresh", "1st", "a-b", "a b", "a;drop table users", `a"b`, "a.b", "ré", "refresh\x00",
		strings.Repeat("a", 64),
	} {
		if _, err := sqlstore.New(ctx, db, sqlstore.Config{Dialect: sqlstore.SQLite, Table: name}); err == nil {
			t.Errorf("New accepted the table name %q", name)
		}
	}
	for _, cfg := range []sqlstore.Config{{}, {Dialect: 3}, {Dialect: -1}} {
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
	// A table of the same name and another shape is refused.
	if _, err := db.Exec(`CREATE TABLE refresh_tokens (hash BLOB PRIMARY KEY, family TEXT)`); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlstore.New(ctx, db, sqlstore.Config{Dialect: sqlstore.SQLite}); err == nil {
		t.Error("New accepted a table of another shape")
	}
}

// TestNewIdempotent runs New several times, at once, on one database, with
// the default table name, a keyword and a long one, and then once more:
// the rows stay.
func TestNewIdempotent(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			conn := be.open(t)
			suffix := testenv.UniqueTable("refresh_test")[len("refresh_test_"):]
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
				r := storetest.NewRecord("usr", storetest.Base)
				if err := s1.Create(context.Background(), r); err != nil {
					t.Fatalf("Create: %v", err)
				}
				s2 := newStore(t, db2, cfg)
				if got, err := s2.Get(context.Background(), r.Hash); err != nil || !sameRecord(got, r) {
					t.Errorf("%s: Get after a second New = %+v, %v; want %+v", name, got, err, r)
				}
			}
		})
	}
}

// TestIndexes: both indexes exist, under distinct names even for a table
// name of 63 characters.
func TestIndexes(t *testing.T) {
	f := pair(t, testenv.SQLiteDB, sqlstore.SQLite)
	long := "t_" + strings.Repeat("y", 61)
	newStore(t, f.raw, sqlstore.Config{Dialect: sqlstore.SQLite, Table: long})
	for _, table := range []string{strings.Trim(f.table, `"`), long} {
		rows, err := f.raw.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, table)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
		rows.Close()
		if len(names) != 2 || names[0] == names[1] {
			t.Errorf("indexes of %s: %v, want two", table, names)
		}
		for _, n := range names {
			if len(n) > 63 {
				t.Errorf("index name %q is longer than 63 characters", n)
			}
		}
	}
}

// TestMigrationFromVersion1: a table of the first release (no dpop_jkt,
// no resource) is migrated in place: its rows stay, unbound, for no
// resource in particular.
func TestMigrationFromVersion1(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			db := be.open(t)(t)
			table := testenv.UniqueTable("refresh_v1")
			testenv.DropTableAtEnd(t, db, table)
			blob := "BLOB"
			if be.dialect == sqlstore.Postgres {
				blob = "BYTEA"
			}
			v1 := `CREATE TABLE "` + table + `" (hash ` + blob + ` NOT NULL PRIMARY KEY, family TEXT NOT NULL, subject TEXT NOT NULL,
client_id TEXT NOT NULL, scope TEXT NOT NULL, family_created_ns BIGINT NOT NULL, issued_ns BIGINT NOT NULL,
spent_ns BIGINT NOT NULL DEFAULT 0, revoked_ns BIGINT NOT NULL DEFAULT 0, access_issuer TEXT NOT NULL,
access_id TEXT NOT NULL, access_expires_ns BIGINT NOT NULL)`
			if err := sqlschema.Migrate(context.Background(), db, be.dialect, "token/refresh/sqlstore:"+table, []string{v1}); err != nil {
				t.Fatal(err)
			}
			rec := storetest.NewRecord("usr_old", storetest.Base)
			q := `INSERT INTO "` + table + `" VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?)`
			if be.dialect == sqlstore.Postgres {
				q = sqlschema.Numbered(q)
			}
			if _, err := db.Exec(q, rec.Hash[:], rec.Family, rec.Grant.Subject, rec.Grant.ClientID, rec.Grant.Scope,
				rec.FamilyCreated.UnixNano(), rec.IssuedAt.UnixNano(), rec.Access.Issuer, rec.Access.ID, rec.Access.ExpiresAt.UnixNano()); err != nil {
				t.Fatal(err)
			}
			s := newStore(t, db, sqlstore.Config{Dialect: be.dialect, Table: table})
			got, err := s.Get(context.Background(), rec.Hash)
			if err != nil || got.Grant.Subject != "usr_old" || got.Grant.JKT != "" || got.Grant.Resource != "" {
				t.Fatalf("a version 1 row after the migration: %+v, %v", got.Grant, err)
			}
		})
	}
}
