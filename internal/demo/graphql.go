package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	graphql "github.com/graph-gophers/graphql-go"
	gqlerrors "github.com/graph-gophers/graphql-go/errors"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/httpx"
)

// graphqlSchema is the demo's GraphQL API: the same data as /api, behind
// the same middleware. Fields that need a scope are nullable, so that a
// caller without it gets null for that field and a FORBIDDEN error, and
// the rest of its answer.
const graphqlSchema = `
schema { query: Query  mutation: Mutation }

type Query {
  "Who the caller is: no scope needed."
  me: Me!
  "Widgets in order of id, at most 100 (default 50) after the id given: needs widgets:read."
  widgets(first: Int = 50, after: ID): [Widget!]
  "One widget: needs widgets:read."
  widget(id: ID!): Widget
}

type Mutation {
  "Creates a widget: needs widgets:write."
  createWidget(name: String!): Widget
}

type Me {
  sub: String!
  iss: String!
  authMethod: String!
  scopes: [String!]!
  roles: [String!]!
}

type Widget {
  id: ID!
  name: String!
  createdBy: String
}
`

// Limits of a GraphQL request: its size, depth and number of fields (so
// that aliases cannot multiply a list into a huge answer, or a mutation
// into thousands of writes), how many widgets one list field returns, and
// how long it may run.
const (
	maxGraphQLBody       = 64 << 10
	maxGraphQLDepth      = 10 // the introspection query of GraphiQL needs 9
	maxGraphQLSelections = 100
	maxGraphQLPage       = 100
	graphQLTimeout       = 5 * time.Second
)

// forbidden is a GraphQL error with extensions.code FORBIDDEN.
type forbidden struct{ scope string }

func (e forbidden) Error() string { return "this field needs the scope " + e.scope }

func (e forbidden) Extensions() map[string]any {
	return map[string]any{"code": "FORBIDDEN", "scope": e.scope}
}

// badInput is a GraphQL error with extensions.code BAD_USER_INPUT.
type badInput struct{ msg string }

func (e badInput) Error() string              { return e.msg }
func (e badInput) Extensions() map[string]any { return map[string]any{"code": "BAD_USER_INPUT"} }

type gqlRoot struct{ s *server }

// gqlPanics answers a resolver's panic with an internal error, never its
// message.
type gqlPanics struct{}

func (gqlPanics) MakePanicError(_ context.Context, _ any) *gqlerrors.QueryError {
	return gqlerrors.Errorf("internal error")
}

// principal returns the caller, put in the context by the middleware.
func principal(ctx context.Context) *identity.Principal {
	p, _ := identity.FromContext(ctx)
	return p
}

func need(ctx context.Context, scope string) error {
	if !principal(ctx).HasScope(scope) {
		return forbidden{scope}
	}
	return nil
}

type meResolver struct{ p *identity.Principal }

func (r meResolver) Sub() string        { return r.p.Subject }
func (r meResolver) Iss() string        { return r.p.Issuer }
func (r meResolver) AuthMethod() string { return string(r.p.Method) }
func (r meResolver) Scopes() []string   { return nonNil(r.p.Scopes) }
func (r meResolver) Roles() []string    { return nonNil(r.p.Roles) }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type widgetResolver struct{ w Widget }

func (r widgetResolver) ID() graphql.ID { return graphql.ID(r.w.ID) }
func (r widgetResolver) Name() string   { return r.w.Name }
func (r widgetResolver) CreatedBy() *string {
	if r.w.CreatedBy == "" {
		return nil
	}
	return &r.w.CreatedBy
}

func (q *gqlRoot) Me(ctx context.Context) meResolver { return meResolver{principal(ctx)} }

func (q *gqlRoot) Widgets(ctx context.Context, args struct {
	First int32
	After *graphql.ID
}) (*[]widgetResolver, error) {
	if err := need(ctx, scopeRead); err != nil {
		return nil, err
	}
	if args.First < 1 || args.First > maxGraphQLPage {
		return nil, badInput{fmt.Sprintf("first must be 1 to %d", maxGraphQLPage)}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	after := 0
	if args.After != nil {
		n, err := strconv.Atoi(string(*args.After))
		if err != nil || n < 0 {
			return nil, badInput{"after must be a widget id"}
		}
		after = n
	}
	var out []widgetResolver
	for _, w := range q.s.widgets.list() {
		if n, _ := strconv.Atoi(w.ID); n > after && len(out) < int(args.First) {
			out = append(out, widgetResolver{w})
		}
	}
	if out == nil {
		out = []widgetResolver{}
	}
	return &out, nil
}

func (q *gqlRoot) Widget(ctx context.Context, args struct{ ID graphql.ID }) (*widgetResolver, error) {
	if err := need(ctx, scopeRead); err != nil {
		return nil, err
	}
	w, ok := q.s.widgets.get(string(args.ID))
	if !ok {
		return nil, nil
	}
	return &widgetResolver{w}, nil
}

func (q *gqlRoot) CreateWidget(ctx context.Context, args struct{ Name string }) (*widgetResolver, error) {
	if err := need(ctx, scopeWrite); err != nil {
		return nil, err
	}
	if !validWidgetName(args.Name) {
		return nil, badInput{"name must be 1 to 100 characters, not all blank"}
	}
	w, ok := q.s.widgets.add(args.Name, principal(ctx).Subject)
	if !ok {
		return nil, badInput{"the widget store is full"}
	}
	return &widgetResolver{w}, nil
}

// newGraphQL parses the schema with its resolvers and limits.
func newGraphQL(s *server) (*graphql.Schema, error) {
	return graphql.ParseSchema(graphqlSchema, &gqlRoot{s}, graphql.UseFieldResolvers(),
		graphql.MaxDepth(maxGraphQLDepth), graphql.MaxQueryLength(maxGraphQLBody), graphql.MaxParallelism(4),
		graphql.MaxSelections(maxGraphQLSelections), graphql.PanicHandler(gqlPanics{}))
}

// graphqlHandler serves POST /graphql: a JSON body {"query", "variables",
// "operationName"} (application/json, exact member names, each once),
// answered 200 with {"data", "errors"} as GraphQL over HTTP does, errors
// of the request itself as problem+json.
func (s *server) graphqlHandler(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Query         string          `json:"query"`
		OperationName *string         `json:"operationName"`
		Variables     map[string]any  `json:"variables"`
		Extensions    json.RawMessage `json:"extensions"`
	}
	if err := httpx.DecodeJSON(w, r, maxGraphQLBody, &body); err != nil {
		bodyProblem(w, err)
		return
	}
	if body.Query == "" {
		httpx.WriteProblem(w, http.StatusBadRequest, "invalid_request", "query is required")
		return
	}
	query, op, vars := body.Query, "", body.Variables
	if body.OperationName != nil {
		op = *body.OperationName
	}
	ctx, cancel := context.WithTimeout(r.Context(), graphQLTimeout)
	defer cancel()
	resp := s.graphql.Exec(ctx, query, op, vars)
	httpx.WriteJSON(w, http.StatusOK, resp)
}
