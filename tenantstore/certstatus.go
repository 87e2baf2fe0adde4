package tenantstore

import (
	"context"
	"fmt"
	"time"
)

// CertificateTimes returns, for each of hosts that has a certificate in the
// shared certificate storage (caddy.storage.postgres, SPEC §10), when it was
// last stored: issued or renewed, by any edge and any issuer. Hosts without
// one are absent, as is every host of an edge that keeps certificates in
// files (a single edge, `make run`'s default): the control plane cannot see
// those. Only the key names and times are read, never a certificate or key.
func (s *Store) CertificateTimes(ctx context.Context, hosts []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(hosts))
	if len(hosts) == 0 {
		return out, nil
	}
	// certmagic stores certificates/<issuer>/<host>/<host>.crt; the key
	// index (COLLATE "C") serves the prefix.
	rows, err := s.pool.Query(ctx, `SELECT split_part(key, '/', 3) AS host, max(modified)
		FROM cert_storage
		WHERE key LIKE 'certificates/%' AND key LIKE '%.crt' AND split_part(key, '/', 3) = ANY($1)
		GROUP BY 1`, hosts)
	if err != nil {
		return nil, fmt.Errorf("reading certificate times: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var host string
		var at time.Time
		if err := rows.Scan(&host, &at); err != nil {
			return nil, fmt.Errorf("reading certificate times: %w", err)
		}
		out[host] = at
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading certificate times: %w", err)
	}
	return out, nil
}
