package brandlogo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/reqctx"
	"github.com/tenantgate/tenantgate/tenantstore"
)

type countingSource struct {
	logo  *tenantstore.Logo
	loads atomic.Int64
}

func (s *countingSource) Logo(context.Context, string) (*tenantstore.Logo, error) {
	s.loads.Add(1)
	return s.logo, nil
}

// BenchmarkHandlerCached is one logo request answered from memory with 304
// (a browser revalidating) and with the bytes.
func BenchmarkHandlerCached(b *testing.B) {
	sum := strings.Repeat("ab", 32)
	src := &countingSource{logo: &tenantstore.Logo{ContentType: "image/png", SHA256: sum, Data: make([]byte, 20<<10)}}
	h, err := New(src, 0, func(w http.ResponseWriter, _ *http.Request, err error) {
		ae, _ := httpapi.ErrorFor(err)
		w.WriteHeader(ae.Status)
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	t := &tenantstore.Tenant{ID: "t1", Branding: tenantstore.Branding{LogoSHA256: sum, LogoType: "image/png"}}
	for _, tc := range []struct{ name, inm string }{{"304", `"` + sum + `"`}, {"200", ""}} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, Path+"?v="+sum, nil).WithContext(reqctx.WithTenant(context.Background(), t))
			if tc.inm != "" {
				req.Header.Set("If-None-Match", tc.inm)
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK && rec.Code != http.StatusNotModified {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
	if n := src.loads.Load(); n != 1 {
		b.Errorf("%d loads from the source, want 1", n)
	}
}
