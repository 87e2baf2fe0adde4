package tenantstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// serverConnectTimeout bounds connecting to a database server to register
// it, place a tenant on it or read its figures.
const serverConnectTimeout = 5 * time.Second

// registry is the Manager's view of the database servers.
func (m *Manager) registry() servers {
	return servers{store: m.store, templateHost: m.dsn.TemplateServer()}
}

// Server returns the registered server called name, or ErrNotFound.
func (s *Store) Server(ctx context.Context, name string) (*Server, error) {
	return servers{store: s}.byName(ctx, name)
}

// ServerByHost returns the registered server whose tenants have
// DatabaseServer key ("" for DefaultServer), or ErrNotFound.
func (s *Store) ServerByHost(ctx context.Context, key string) (*Server, error) {
	return servers{store: s}.byHost(ctx, key)
}

// ServerTenants returns how many tenants the server srv holds.
func (s *Store) ServerTenants(ctx context.Context, srv *Server) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM tenants WHERE db_server = $1", srv.hostKey).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting the tenants of server %q: %w", srv.Name, translate(err))
	}
	return n, nil
}

// Accepts returns nil when placement or a move may put one more tenant on
// srv, else a *ConflictError naming field: the server is draining or full.
func (s *Store) Accepts(ctx context.Context, field string, srv *Server) error {
	if srv.Draining {
		return &ConflictError{Field: field, Message: fmt.Sprintf("names server %q, which is draining: it takes no new tenants (tenantctl servers undrain %s)", srv.Name, srv.Name)}
	}
	n, err := s.ServerTenants(ctx, srv)
	if err != nil {
		return err
	}
	if !srv.accepting(n) {
		return &ConflictError{Field: field, Message: fmt.Sprintf("names server %q, which is full (%d of %d tenants); raise its capacity or choose another", srv.Name, n, srv.Capacity)}
	}
	return nil
}

// AddServerRequest is the input of Manager.AddServer.
type AddServerRequest struct {
	Name string
	// URL reaches the server as a role that may create databases and
	// roles; it must not hold a password.
	URL string
	// PasswordEnv names the variable holding that role's password.
	PasswordEnv string
	// Capacity is the most tenants placement puts there; 0 means
	// DefaultServerCapacity.
	Capacity int
}

// AddServer registers a database server after checking that it answers
// and that the URL's role may create databases and roles there. Bad input
// is a *ValidationError naming name, url, password_env or capacity; a
// taken name or a server registered already is a *ConflictError.
func (m *Manager) AddServer(ctx context.Context, req AddServerRequest) (*Server, error) {
	req.Name, req.URL = strings.TrimSpace(req.Name), strings.TrimSpace(req.URL)
	if err := ValidateServerName("name", req.Name); err != nil {
		return nil, err
	}
	if req.Name == DefaultServer {
		return nil, &ConflictError{Field: "name", Message: "is taken by the server of TENANT_DATABASE_TEMPLATE"}
	}
	if err := validateServerURL(req.URL); err != nil {
		return nil, err
	}
	if err := validatePasswordEnv(req.PasswordEnv); err != nil {
		return nil, err
	}
	if req.Capacity == 0 {
		req.Capacity = DefaultServerCapacity
	}
	if err := validateCapacity(req.Capacity); err != nil {
		return nil, err
	}
	if err := m.CheckDatabaseHost("url", req.URL); err != nil {
		return nil, err
	}
	key, err := m.dsn.ServerKey(req.URL)
	if err != nil {
		return nil, invalid("url", "is not a valid PostgreSQL URL")
	}
	if key == "" {
		return nil, &ConflictError{Field: "url", Message: "names the server of TENANT_DATABASE_TEMPLATE, which is registered as " + DefaultServer}
	}
	s := &Server{Name: req.Name, URL: req.URL, PasswordEnv: req.PasswordEnv, Host: key, hostKey: key, Capacity: req.Capacity}
	if req.PasswordEnv != "" && m.dsn.getenv(req.PasswordEnv) == "" {
		return nil, invalid("password_env", "variable %s is empty or unset in this process; set it here and in every tenantctl and appserver", req.PasswordEnv)
	}
	if err := m.checkOperator(ctx, s); err != nil {
		return nil, err
	}
	if err := m.registry().insert(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}

func validateCapacity(n int) error {
	if n < 1 || n > MaxServerCapacity {
		return invalid("capacity", "must be from 1 to %d", MaxServerCapacity)
	}
	return nil
}

// checkOperator connects to s as its operator role and refuses, naming
// url, a server that does not answer or a role that may not create
// databases and roles.
func (m *Manager) checkOperator(ctx context.Context, s *Server) error {
	conn, err := m.connectServer(ctx, s)
	if err != nil {
		return invalid("url", "could not be connected to: %s", redactText(err.Error()))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var super, createDB, createRole bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user").
		Scan(&super, &createDB, &createRole); err != nil {
		return fmt.Errorf("reading the privileges of the operator role of server %q: %w", s.Name, translate(err))
	}
	if !super && !(createDB && createRole) {
		return invalid("url", "names role %q, which may not create databases and roles on %s: give it CREATEDB and CREATEROLE (or use a superuser)", conn.Config().User, s.Host)
	}
	return nil
}

// connectServer connects to the maintenance database of s as its operator.
func (m *Manager) connectServer(ctx context.Context, s *Server) (*pgx.Conn, error) {
	u, err := m.dsn.ServerURL(s, "postgres")
	if err != nil {
		return nil, err
	}
	cfg, err := parseConfig(u)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = serverConnectTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to database server %q (%s): %w", s.Name, s.Host, translate(err))
	}
	return conn, nil
}

// ServerPatch changes a server; nil fields are left alone.
type ServerPatch struct {
	Capacity *int
	Draining *bool
}

// UpdateServer applies p to the server called name.
func (m *Manager) UpdateServer(ctx context.Context, name string, p ServerPatch) (*Server, error) {
	if p.Capacity != nil {
		if err := validateCapacity(*p.Capacity); err != nil {
			return nil, err
		}
	}
	return m.registry().update(ctx, strings.ToLower(strings.TrimSpace(name)), p.Capacity, p.Draining)
}

// ListServers returns the registered servers by name, without figures
// (see Servers).
func (m *Manager) ListServers(ctx context.Context) ([]*Server, error) {
	return m.registry().list(ctx)
}

// Server returns the registered server called name, or ErrNotFound.
func (m *Manager) Server(ctx context.Context, name string) (*Server, error) {
	return m.registry().byName(ctx, name)
}

// ServerOf returns the registered server t's database is on, or
// ErrNotFound when that server is not registered.
func (m *Manager) ServerOf(ctx context.Context, t *Tenant) (*Server, error) {
	if m.dsn.getenv(OverrideVar(t.Subdomain)) != "" {
		return nil, fmt.Errorf("tenant %q is placed by %s: %w", t.Subdomain, OverrideVar(t.Subdomain), ErrNotFound)
	}
	return m.registry().byHost(ctx, m.serverOf(t))
}

// tenantCounts is servers.tenantCounts with rows holding the template's
// own "host:port" counted for DefaultServer.
func (m *Manager) tenantCounts(ctx context.Context) (map[string]int, error) {
	counts, err := m.registry().tenantCounts(ctx)
	if err != nil {
		return nil, err
	}
	if th := m.dsn.TemplateServer(); th != "" && counts[th] > 0 {
		counts[""] += counts[th]
		delete(counts, th)
	}
	return counts, nil
}

// pickServer chooses the server a new tenant is placed on: the one called
// name (a *ValidationError naming server when there is none, a
// *ConflictError when it is draining or full), or else the least loaded
// accepting one: the lowest tenants / capacity, then the smallest total
// size of its tenants' databases, then the name. Two concurrent creates
// may both take a server's last place: capacity is a placement rule, not
// a hard limit.
func (m *Manager) pickServer(ctx context.Context, name string) (*Server, error) {
	reg := m.registry()
	if name != "" {
		s, err := reg.byName(ctx, name)
		if errors.Is(err, ErrNotFound) {
			return nil, invalid("server", "names no registered database server (tenantctl servers list)")
		}
		if err != nil {
			return nil, err
		}
		if err := m.store.Accepts(ctx, "server", s); err != nil {
			return nil, err
		}
		return s, nil
	}
	all, err := reg.list(ctx)
	if err != nil {
		return nil, err
	}
	counts, err := m.tenantCounts(ctx)
	if err != nil {
		return nil, err
	}
	var cands []*Server
	for _, s := range all {
		if s.accepting(counts[s.hostKey]) {
			cands = append(cands, s)
		}
	}
	if len(cands) == 0 {
		return nil, &ConflictError{Field: "server", Message: "no database server accepts new tenants (each is draining or full): undrain one, raise a capacity or add a server"}
	}
	// a/ca < b/cb without floating point: a*cb < b*ca.
	load := func(s, o *Server) int {
		return counts[s.hostKey]*o.Capacity - counts[o.hostKey]*s.Capacity
	}
	slices.SortStableFunc(cands, func(a, b *Server) int { return load(a, b) })
	tied := 1
	for tied < len(cands) && load(cands[tied], cands[0]) == 0 {
		tied++
	}
	if tied == 1 {
		return cands[0], nil
	}
	// Only a tie costs a look at the servers: the size of their tenants'
	// databases. A server that cannot tell counts as the largest.
	sizes := make([]int64, tied)
	forEach(tied, tied, func(i int) {
		st := m.serverStats(ctx, &ServerStats{Server: cands[i], Registered: true})
		sizes[i] = -1
		if st.SizeBytes != nil {
			sizes[i] = *st.SizeBytes
		}
	})
	best := -1
	for i := range tied {
		if sizes[i] < 0 {
			continue
		}
		if best < 0 || sizes[i] < sizes[best] {
			best = i
		}
	}
	if best < 0 {
		best = 0
	}
	return cands[best], nil
}

// placeOn places t on the registered server s (not DefaultServer): a free
// database name there, a placement URL without credentials that t reaches
// as its own login role. It returns the operator URL that creates the role
// and the database (see createOwned); it holds a password, never stored.
func (m *Manager) placeOn(ctx context.Context, t *Tenant, s *Server) (string, error) {
	conn, err := m.connectServer(ctx, s)
	if err != nil {
		return "", fmt.Errorf("placing the database on server %q: %w", s.Name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	name, err := m.prov.freeNameOn(ctx, conn, t)
	if err != nil {
		return "", err
	}
	operator, err := m.dsn.ServerURL(s, name)
	if err != nil {
		return "", err
	}
	stored, err := WithoutCredentials(operator)
	if err != nil {
		return "", err
	}
	t.DatabaseName = name
	t.Placement = Placement{URL: stored}
	return operator, nil
}

// serverAdminURL is the URL of database on the server of t's database with
// the credentials that create and drop databases and roles there: the
// registered server's operator, or, for a server that is not registered,
// the template's user on that host (see DSNConfig.ServerAdminURL).
func serverAdminURL(ctx context.Context, reg servers, dsn DSNConfig, t *Tenant, database string) (string, error) {
	key := t.DatabaseServer
	if key == dsn.TemplateServer() {
		key = ""
	}
	s, err := reg.byHost(ctx, key)
	switch {
	case err == nil:
		return dsn.ServerURL(s, database)
	case errors.Is(err, ErrNotFound):
		return dsn.ServerAdminURL(t, database)
	}
	return "", err
}

// ServerAdminURL is the URL of database on the server of t's database with
// that server's operator credentials (registered servers), or the
// template's user on that host (a server not registered). It holds a
// password: never print it.
func (s *Store) ServerAdminURL(ctx context.Context, dsn DSNConfig, t *Tenant, database string) (string, error) {
	return serverAdminURL(ctx, servers{store: s}, dsn, t, database)
}
