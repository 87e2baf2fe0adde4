// Package logo checks a tenant's logo before it is stored: a PNG whose
// header decodes within bounded dimensions, or an SVG rewritten through an
// allow-list (see SanitizeSVG) so that it can never run script. It is the
// one place both the admin API and tenantctl go through (via
// tenantstore.Manager.SetLogo).
package logo

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"mime"
	"strings"
)

// Limits of a logo.
const (
	// MaxBytes is the largest logo accepted (SPEC §13: 256 KB).
	MaxBytes = 256 << 10
	// MaxDimension bounds a PNG's width and height in pixels, so a tiny
	// file cannot make every browser that shows it allocate gigabytes.
	MaxDimension = 4096
)

// The content types a logo may have.
const (
	TypePNG = "image/png"
	TypeSVG = "image/svg+xml"
)

// Errors Clean returns; callers map them to statuses (413, 415, 400).
var (
	ErrTooLarge    = fmt.Errorf("logo is larger than %d bytes", MaxBytes)
	ErrUnsupported = errors.New("logo must be image/png or image/svg+xml")
	ErrEmpty       = errors.New("logo is empty")
)

// InvalidError says why a logo of a supported type was refused.
type InvalidError struct{ Reason string }

// Error implements error.
func (e *InvalidError) Error() string { return "invalid logo: " + e.Reason }

func invalid(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
}

// MediaType returns the media type of a Content-Type header value, lower
// case and without parameters ("" when it does not parse).
func MediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

// Clean checks data as a logo of contentType (a media type, parameters
// allowed) and returns the bytes to store with their media type: a PNG
// unchanged, an SVG sanitised. It refuses anything else.
func Clean(contentType string, data []byte) (mediaType string, out []byte, err error) {
	if len(data) > MaxBytes {
		return "", nil, ErrTooLarge
	}
	if len(data) == 0 {
		return "", nil, ErrEmpty
	}
	switch mt := MediaType(contentType); mt {
	case TypePNG:
		if err := checkPNG(data); err != nil {
			return "", nil, err
		}
		return TypePNG, data, nil
	case TypeSVG:
		out, err := SanitizeSVG(data)
		if err != nil {
			return "", nil, err
		}
		if len(out) > MaxBytes {
			return "", nil, ErrTooLarge
		}
		return TypeSVG, out, nil
	default:
		return "", nil, ErrUnsupported
	}
}

// checkPNG decodes the PNG's header (not its pixels) and bounds its size.
func checkPNG(data []byte) error {
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return invalid("not a PNG image: %v", err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxDimension || cfg.Height > MaxDimension {
		return invalid("PNG is %d×%d pixels; at most %d×%d", cfg.Width, cfg.Height, MaxDimension, MaxDimension)
	}
	return nil
}
