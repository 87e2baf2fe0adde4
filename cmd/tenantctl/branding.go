package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantgate/tenantgate/internal/logo"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// The branding commands (SPEC §13) join the tree through extraCommands.
func init() {
	extraCommands = append(extraCommands, (*app).brandingCommand)
}

func (a *app) brandingCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "branding", Short: "Show or change a tenant's display name, colour and logo", RunE: needSubcommand}

	var displayName, color string
	set := &cobra.Command{
		Use:   "set <subdomain> [--display-name NAME] [--color #rrggbb]",
		Short: "Set the display name and/or primary colour (an empty value clears it)",
		Args:  exactArgs(1, "<subdomain>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p tenantstore.BrandingPatch
			if cmd.Flags().Changed("display-name") {
				p.DisplayName = &displayName
			}
			if cmd.Flags().Changed("color") {
				p.PrimaryColor = &color
			}
			if p.DisplayName == nil && p.PrimaryColor == nil {
				return usageError{errors.New("branding set needs --display-name, --color or both")}
			}
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			t, err := mgr.SetBranding(cmd.Context(), args[0], p)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "branding of tenant %s: display name %s, colour %s\n", t.Subdomain, orNone(shown(t.Branding.DisplayName)), orNone(t.Branding.PrimaryColor))
			return nil
		},
	}
	set.Flags().StringVar(&displayName, "display-name", "", "name shown on the tenant's pages instead of its name (at most 100 characters)")
	set.Flags().StringVar(&color, "color", "", "primary colour, exactly #rrggbb")

	var remove bool
	logoCmd := &cobra.Command{
		Use:   "logo <subdomain> <file.png|file.svg> | logo <subdomain> --remove",
		Short: "Upload a PNG or SVG logo (at most 256 KB; an SVG is sanitised), or remove it",
		RunE: func(cmd *cobra.Command, args []string) error {
			if remove != (len(args) == 1) || len(args) < 1 || len(args) > 2 {
				return usageError{errors.New("branding logo takes <subdomain> <file>, or <subdomain> --remove")}
			}
			mgr, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			if remove {
				if _, err := mgr.DeleteLogo(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "removed the logo of tenant %s\n", args[0])
				return nil
			}
			ct, data, err := readLogoFile(args[1])
			if err != nil {
				return err
			}
			t, err := mgr.SetLogo(cmd.Context(), args[0], ct, data)
			if errors.Is(err, logo.ErrTooLarge) || errors.Is(err, logo.ErrUnsupported) || errors.Is(err, logo.ErrEmpty) {
				return usageError{fmt.Errorf("%s: %w", args[1], err)}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "uploaded the logo of tenant %s (%s, sha256 %s)\n", t.Subdomain, t.Branding.LogoType, t.Branding.LogoSHA256)
			return nil
		},
	}
	logoCmd.Flags().BoolVar(&remove, "remove", false, "remove the tenant's logo")

	var asJSON bool
	show := &cobra.Command{
		Use:   "show <subdomain> [--json]",
		Short: "Show a tenant's branding",
		Args:  exactArgs(1, "<subdomain>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, t, err := a.tenant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			b := t.Branding
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(b)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "display name\t%s\n", orNone(shown(b.DisplayName)))
			fmt.Fprintf(tw, "shown as\t%s\n", shown(t.Title()))
			fmt.Fprintf(tw, "primary colour\t%s\n", orNone(b.PrimaryColor))
			if b.LogoSHA256 != "" {
				fmt.Fprintf(tw, "logo\t%s, sha256 %s\n", b.LogoType, b.LogoSHA256)
			} else {
				fmt.Fprintln(tw, "logo\t(none)")
			}
			return tw.Flush()
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print the branding as one JSON object")
	cmd.AddCommand(set, logoCmd, show)
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// readLogoFile reads a logo file of at most logo.MaxBytes and names its
// type from the extension, else from its first bytes.
func readLogoFile(path string) (contentType string, data []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, usageError{fmt.Errorf("reading the logo: %w", err)}
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, logo.MaxBytes+1))
	if err != nil {
		return "", nil, fmt.Errorf("reading the logo %s: %w", path, err)
	}
	if len(data) > logo.MaxBytes {
		return "", nil, usageError{fmt.Errorf("%s: %w", path, logo.ErrTooLarge)}
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		return logo.TypePNG, data, nil
	case ".svg":
		return logo.TypeSVG, data, nil
	}
	if bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		return logo.TypePNG, data, nil
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("<")) {
		return logo.TypeSVG, data, nil
	}
	return "", nil, usageError{fmt.Errorf("%s: %w", path, logo.ErrUnsupported)}
}
