package tenantstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// ServerStats is a database server with its figures. Registered is false
// for a "host:port" that tenants use (an explicit URL, an older move) but
// that no one registered: it has no name and no credentials, so no
// figures. A server that does not answer has nil figures and Error says
// why; the call that read them still succeeds.
type ServerStats struct {
	*Server
	Registered bool `json:"registered"`
	// Tenants is how many tenants the control plane places there.
	Tenants int `json:"tenants"`
	// SizeBytes is the total size of those tenants' databases.
	SizeBytes *int64 `json:"size_bytes"`
	// Connections is the number of client connections open on the
	// server (to any database), MaxConnections its max_connections.
	Connections    *int   `json:"connections"`
	MaxConnections *int   `json:"max_connections"`
	Error          string `json:"error,omitempty"`
}

// Servers returns every registered server, then every unregistered
// "host:port" tenants use, with their figures, read from the servers in
// parallel.
func (m *Manager) Servers(ctx context.Context) ([]*ServerStats, error) {
	reg := m.registry()
	all, err := reg.list(ctx)
	if err != nil {
		return nil, err
	}
	counts, err := m.tenantCounts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*ServerStats, 0, len(all))
	for _, s := range all {
		out = append(out, &ServerStats{Server: s, Registered: true, Tenants: counts[s.hostKey]})
		delete(counts, s.hostKey)
	}
	var extra []string
	for k := range counts {
		extra = append(extra, k)
	}
	slices.Sort(extra)
	for _, k := range extra {
		out = append(out, &ServerStats{Server: &Server{Host: k, hostKey: k}, Tenants: counts[k],
			Error: "not registered: tenantctl servers add <name> <url> gives it a name, credentials and figures"})
	}
	forEach(len(out), len(out), func(i int) {
		if out[i].Registered {
			m.serverStats(ctx, out[i])
		}
	})
	return out, nil
}

// serverStats fills st's figures from its server and returns st.
func (m *Manager) serverStats(ctx context.Context, st *ServerStats) *ServerStats {
	keys := []string{st.hostKey}
	if st.hostKey == "" && m.dsn.TemplateServer() != "" {
		keys = append(keys, m.dsn.TemplateServer())
	}
	dbs, err := m.registry().databasesOn(ctx, keys)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	conn, err := m.connectServer(ctx, st.Server)
	if err != nil {
		st.Error = redactText(err.Error())
		return st
	}
	defer conn.Close(context.WithoutCancel(ctx))
	usage, err := usageOn(ctx, conn, dbs)
	if err != nil {
		st.Error = fmt.Sprintf("reading the figures of server %q: %v", st.Name, err)
		return st
	}
	var size int64
	for _, u := range usage {
		if u.SizeBytes != nil {
			size += *u.SizeBytes
		}
	}
	var conns, max int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int,
		current_setting('max_connections')::int`).Scan(&conns, &max); err != nil {
		st.Error = fmt.Sprintf("reading the connections of server %q: %v", st.Name, translate(err))
		return st
	}
	st.SizeBytes, st.Connections, st.MaxConnections = &size, &conns, &max
	return st
}

// Usage is what a tenant's database takes on its server. Nil figures with
// Error mean they could not be read (the server is down); Server is ""
// for a server that is not registered.
type Usage struct {
	Server     string `json:"server"`
	ServerHost string `json:"server_host"`
	// SizeBytes is pg_database_size of the database.
	SizeBytes *int64 `json:"size_bytes"`
	// Connections is the number of sessions open on the database.
	Connections *int   `json:"connections"`
	Error       string `json:"usage_error,omitempty"`
}

// usageQuery reads the size and the open sessions of each database named
// in $1 that exists; the size only where the caller may read it (CONNECT
// on the database, or pg_read_all_stats), so one foreign database does not
// fail the rest.
const usageQuery = `SELECT d.datname,
	CASE WHEN has_database_privilege(d.oid, 'CONNECT') OR pg_has_role('pg_read_all_stats', 'MEMBER')
		THEN pg_database_size(d.oid) END,
	(SELECT count(*) FROM pg_stat_activity a WHERE a.datid = d.oid)::int
	FROM pg_database d WHERE d.datname = ANY($1)`

// usageOn reads the usage of databases on the server conn is connected to
// (not to one of them, or its own session would count).
func usageOn(ctx context.Context, conn *pgx.Conn, databases []string) (map[string]Usage, error) {
	out := make(map[string]Usage, len(databases))
	if len(databases) == 0 {
		return out, nil
	}
	rows, err := conn.Query(ctx, usageQuery, databases)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var u Usage
		if err := rows.Scan(&name, &u.SizeBytes, &u.Connections); err != nil {
			return nil, translate(err)
		}
		out[name] = u
	}
	return out, translate(rows.Err())
}

// DatabaseUsage reads the size and open connections of t's database: as
// its registered server's operator, or, on a server that is not
// registered, through t's own URL. It never fails: figures it cannot read
// are nil and Error says why.
func (m *Manager) DatabaseUsage(ctx context.Context, t *Tenant) Usage {
	u := Usage{ServerHost: t.DatabaseServer}
	if u.ServerHost == "" {
		u.ServerHost = m.dsn.TemplateServer()
	}
	s, err := m.ServerOf(ctx, t)
	if err != nil {
		return m.ownUsage(ctx, t, u)
	}
	u.Server = s.Name
	conn, err := m.connectServer(ctx, s)
	if err != nil {
		u.Error = redactText(err.Error())
		return u
	}
	defer conn.Close(context.WithoutCancel(ctx))
	got, err := usageOn(ctx, conn, []string{t.DatabaseName})
	if err != nil {
		u.Error = fmt.Sprintf("reading the size of database %q: %v", t.DatabaseName, err)
		return u
	}
	g, ok := got[t.DatabaseName]
	if !ok {
		u.Error = fmt.Sprintf("database %q does not exist on server %q", t.DatabaseName, s.Name)
		return u
	}
	u.SizeBytes, u.Connections = g.SizeBytes, g.Connections
	return u
}

// ownUsage reads t's usage through t's own URL, not counting its own
// session.
func (m *Manager) ownUsage(ctx context.Context, t *Tenant, u Usage) Usage {
	cfg, err := m.tenantConfig(t)
	if err != nil {
		u.Error = redactText(err.Error())
		return u
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		u.Error = fmt.Sprintf("connecting to the database of tenant %q: %v", t.Subdomain, translate(err))
		return u
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var size int64
	var conns int
	if err := conn.QueryRow(ctx, `SELECT pg_database_size(current_database()),
		(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid())::int`).Scan(&size, &conns); err != nil {
		u.Error = fmt.Sprintf("reading the size of database %q: %v", t.DatabaseName, translate(err))
		return u
	}
	u.SizeBytes, u.Connections = &size, &conns
	return u
}
