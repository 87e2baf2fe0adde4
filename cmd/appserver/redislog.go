package main

import (
	"context"
	"fmt"
	"log/slog"
)

// redisLogger sends go-redis' own messages (dial failures and the like) to
// the JSON log as warnings, instead of plain text on stderr.
type redisLogger struct{ log *slog.Logger }

// Printf implements go-redis' internal.Logging.
func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", slog.String("message", fmt.Sprintf(format, v...)))
}
