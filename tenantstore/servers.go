package tenantstore

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Database servers (SPEC §12): the PostgreSQL servers tenant databases are
// placed on, registered in the control plane. DefaultServer is the server
// of TENANT_DATABASE_TEMPLATE; it is always registered, with no URL of its
// own (the template's credentials do its work).

// DefaultServer is the name of the server of TENANT_DATABASE_TEMPLATE.
const DefaultServer = "default"

// Limits and defaults of a server's capacity (its most tenants).
const (
	DefaultServerCapacity = 10_000
	MaxServerCapacity     = 1_000_000
)

var (
	serverNameRE  = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	passwordEnvRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,100}_PASSWORD$`)
)

// Server is one registered database server. It holds no secret: URL has no
// password (it is refused when it has one) and PasswordEnv names the
// environment variable that holds it.
type Server struct {
	Name string `json:"name"`
	// URL reaches a maintenance database of the server as an operator
	// role that may create databases and roles; "" for DefaultServer,
	// whose URL is the template's.
	URL string `json:"url,omitempty"`
	// PasswordEnv names the variable holding the operator's password, read
	// on every connect; "" when the server needs none (trust, .pgpass).
	PasswordEnv string `json:"password_env,omitempty"`
	// Host is the normalised "host:port" of the server.
	Host      string    `json:"host"`
	Capacity  int       `json:"capacity"`
	Draining  bool      `json:"draining"`
	CreatedAt time.Time `json:"created_at"`
	// hostKey is the key tenants' DatabaseServer holds: "" for
	// DefaultServer, else Host.
	hostKey string
}

// accepting reports whether placement may put one more tenant on s, which
// holds tenants.
func (s *Server) accepting(tenants int) bool { return !s.Draining && tenants < s.Capacity }

// ValidateServerName refuses, naming field, a name that is not 1–63 of
// a-z 0-9 _ - starting with a letter.
func ValidateServerName(field, name string) error {
	if !serverNameRE.MatchString(name) {
		return invalid(field, "must be 1 to 63 characters of a-z, 0-9, '_' and '-', starting with a letter")
	}
	return nil
}

// validateServerURL checks an operator URL given to register a server: a
// postgres:// URL with a host and no password anywhere in it.
func validateServerURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return invalid("url", "must be a postgres:// URL naming the server and an operator role")
	}
	if _, ok := u.User.Password(); ok || u.Query().Has("password") || u.Query().Has("sslpassword") {
		return invalid("url", "must not contain a password: put it in an environment variable whose name ends in _PASSWORD, set in every tenantctl and appserver, and name it with password_env (--password-env)")
	}
	if _, err := parseConfig(raw); err != nil {
		return invalid("url", "is not a valid PostgreSQL URL")
	}
	return nil
}

// validatePasswordEnv refuses a variable name that could make a process
// send another secret (ADMIN_TOKENS, TENANT_SIGNING_KEYS…) as a database
// password: it must be upper-case and end in _PASSWORD.
func validatePasswordEnv(name string) error {
	if name != "" && !passwordEnvRE.MatchString(name) {
		return invalid("password_env", "must be the name of an environment variable in upper case ending in _PASSWORD, e.g. DB2_PASSWORD")
	}
	return nil
}

// ServerURL returns the URL of database on s with the operator's
// credentials, the password read from s.PasswordEnv; DefaultServer's is
// the template's admin URL. It holds a password: never print it.
func (c DSNConfig) ServerURL(s *Server, database string) (string, error) {
	if s.URL == "" {
		return c.AdminURL(database)
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return "", fmt.Errorf("database server %q: its URL is not a URL", s.Name)
	}
	u.Path, u.RawPath = "/"+database, ""
	if s.PasswordEnv != "" {
		pw := c.getenv(s.PasswordEnv)
		if pw == "" {
			return "", fmt.Errorf("database server %q: variable %s is empty or unset; set it to the password of %s in this process's environment",
				s.Name, s.PasswordEnv, u.User.Username())
		}
		u.User = url.UserPassword(u.User.Username(), pw)
	}
	return u.String(), nil
}

const serverColumns = `name, url, password_env, host_key, capacity, draining, created_at`

func scanServer(row interface{ Scan(...any) error }, templateHost string) (*Server, error) {
	var s Server
	if err := row.Scan(&s.Name, &s.URL, &s.PasswordEnv, &s.hostKey, &s.Capacity, &s.Draining, &s.CreatedAt); err != nil {
		return nil, translate(err)
	}
	s.Host = s.hostKey
	if s.hostKey == "" {
		s.Host = templateHost
	}
	return &s, nil
}

// servers reads the registry of the control plane; templateHost is the
// "host:port" shown for DefaultServer.
type servers struct {
	store        *Store
	templateHost string
}

func (r servers) list(ctx context.Context) ([]*Server, error) {
	rows, err := r.store.pool.Query(ctx, "SELECT "+serverColumns+" FROM database_servers ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("listing database servers: %w", translate(err))
	}
	defer rows.Close()
	var out []*Server
	for rows.Next() {
		s, err := scanServer(rows, r.templateHost)
		if err != nil {
			return nil, fmt.Errorf("listing database servers: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing database servers: %w", translate(err))
	}
	return out, nil
}

func (r servers) get(ctx context.Context, where string, arg any) (*Server, error) {
	return scanServer(r.store.pool.QueryRow(ctx, "SELECT "+serverColumns+" FROM database_servers WHERE "+where, arg), r.templateHost)
}

// byName returns the server called name, or ErrNotFound.
func (r servers) byName(ctx context.Context, name string) (*Server, error) {
	s, err := r.get(ctx, "name = $1", strings.ToLower(name))
	if err != nil {
		return nil, fmt.Errorf("database server %q: %w", name, err)
	}
	return s, nil
}

// byHost returns the server whose tenants have DatabaseServer key, or
// ErrNotFound.
func (r servers) byHost(ctx context.Context, key string) (*Server, error) {
	s, err := r.get(ctx, "host_key = $1", key)
	if err != nil {
		return nil, fmt.Errorf("database server at %q: %w", key, err)
	}
	return s, nil
}

func (r servers) insert(ctx context.Context, s *Server) error {
	err := r.store.pool.QueryRow(ctx, `INSERT INTO database_servers (name, url, password_env, host_key, capacity)
		VALUES ($1, $2, $3, $4, $5) RETURNING created_at`, s.Name, s.URL, s.PasswordEnv, s.hostKey, s.Capacity).Scan(&s.CreatedAt)
	if isCode(err, "23505") {
		if strings.Contains(err.Error(), "host_key") {
			return &ConflictError{Field: "url", Message: fmt.Sprintf("names server %s, which is registered already", s.Host)}
		}
		return &ConflictError{Field: "name", Message: "is already taken"}
	}
	if err != nil {
		return fmt.Errorf("registering database server %q: %w", s.Name, translate(err))
	}
	return nil
}

func (r servers) update(ctx context.Context, name string, capacity *int, draining *bool) (*Server, error) {
	s, err := r.get(ctx, `name = $1`, name)
	if err != nil {
		return nil, fmt.Errorf("database server %q: %w", name, err)
	}
	if capacity != nil {
		s.Capacity = *capacity
	}
	if draining != nil {
		s.Draining = *draining
	}
	if _, err := r.store.pool.Exec(ctx, "UPDATE database_servers SET capacity = $2, draining = $3 WHERE name = $1",
		s.Name, s.Capacity, s.Draining); err != nil {
		return nil, fmt.Errorf("updating database server %q: %w", name, translate(err))
	}
	return s, nil
}

// tenantCounts returns how many tenants (any status) each server key holds.
func (r servers) tenantCounts(ctx context.Context) (map[string]int, error) {
	rows, err := r.store.pool.Query(ctx, "SELECT db_server, count(*) FROM tenants GROUP BY db_server")
	if err != nil {
		return nil, fmt.Errorf("counting tenants per server: %w", translate(err))
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("counting tenants per server: %w", translate(err))
		}
		out[k] += n
	}
	return out, rows.Err()
}

// databasesOn returns the database names of the tenants on server key.
func (r servers) databasesOn(ctx context.Context, keys []string) ([]string, error) {
	rows, err := r.store.pool.Query(ctx, "SELECT database_name FROM tenants WHERE db_server = ANY($1) ORDER BY 1", keys)
	if err != nil {
		return nil, fmt.Errorf("listing the databases of a server: %w", translate(err))
	}
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, translate(err)
		}
		out = append(out, n)
	}
	return out, translate(rows.Err())
}
