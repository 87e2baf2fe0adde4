// Package featureflag evaluates a tenant's features (SPEC §13) through the
// OpenFeature Go SDK, with a provider of our own that answers from the
// tenant the caller already holds (the resolver's cached tenant): no
// network call and no lookup per evaluation. The tenant comes from the
// evaluation context's "tenant" attribute or, failing that, from the Go
// context (through the function given to New), so request handlers need
// pass nothing but their context.
package featureflag

import (
	"context"
	"fmt"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// TenantAttribute is the evaluation-context attribute that may carry the
// *tenantstore.Tenant to evaluate for.
const TenantAttribute = "tenant"

// ProviderName is the provider's name in OpenFeature metadata.
const ProviderName = "tenantgate-tenant"

// Provider is an openfeature.FeatureProvider answering boolean flags named
// after tenantstore.KnownFeatures from the tenant's effective features.
// Other types, unknown flags and evaluations without a tenant answer the
// default with an error code.
type Provider struct {
	fromContext func(context.Context) *tenantstore.Tenant
}

// NewProvider returns a Provider that finds the tenant in the evaluation
// context, else through fromContext (which may be nil).
func NewProvider(fromContext func(context.Context) *tenantstore.Tenant) *Provider {
	return &Provider{fromContext: fromContext}
}

// Metadata implements openfeature.FeatureProvider.
func (p *Provider) Metadata() openfeature.Metadata { return openfeature.Metadata{Name: ProviderName} }

// Hooks implements openfeature.FeatureProvider: none.
func (p *Provider) Hooks() []openfeature.Hook { return nil }

func (p *Provider) tenant(ctx context.Context, flat openfeature.FlattenedContext) *tenantstore.Tenant {
	if t, ok := flat[TenantAttribute].(*tenantstore.Tenant); ok && t != nil {
		return t
	}
	if p.fromContext != nil {
		return p.fromContext(ctx)
	}
	return nil
}

var (
	on  = openfeature.ProviderResolutionDetail{Reason: openfeature.TargetingMatchReason, Variant: "on"}
	off = openfeature.ProviderResolutionDetail{Reason: openfeature.TargetingMatchReason, Variant: "off"}
)

// BooleanEvaluation implements openfeature.FeatureProvider.
func (p *Provider) BooleanEvaluation(ctx context.Context, flag string, defaultValue bool, flat openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	if !tenantstore.IsFeature(flag) {
		return openfeature.BoolResolutionDetail{Value: defaultValue, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
			ResolutionError: openfeature.NewFlagNotFoundResolutionError(fmt.Sprintf("no feature %q", flag)), Reason: openfeature.ErrorReason}}
	}
	t := p.tenant(ctx, flat)
	if t == nil {
		return openfeature.BoolResolutionDetail{Value: defaultValue, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
			ResolutionError: openfeature.NewTargetingKeyMissingResolutionError("no tenant to evaluate for"), Reason: openfeature.ErrorReason}}
	}
	if t.FeatureEnabled(flag) {
		return openfeature.BoolResolutionDetail{Value: true, ProviderResolutionDetail: on}
	}
	return openfeature.BoolResolutionDetail{Value: false, ProviderResolutionDetail: off}
}

func mismatch() openfeature.ProviderResolutionDetail {
	return openfeature.ProviderResolutionDetail{ResolutionError: openfeature.NewTypeMismatchResolutionError("features are boolean"), Reason: openfeature.ErrorReason}
}

// StringEvaluation implements openfeature.FeatureProvider: a type mismatch.
func (p *Provider) StringEvaluation(_ context.Context, _ string, d string, _ openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	return openfeature.StringResolutionDetail{Value: d, ProviderResolutionDetail: mismatch()}
}

// FloatEvaluation implements openfeature.FeatureProvider: a type mismatch.
func (p *Provider) FloatEvaluation(_ context.Context, _ string, d float64, _ openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	return openfeature.FloatResolutionDetail{Value: d, ProviderResolutionDetail: mismatch()}
}

// IntEvaluation implements openfeature.FeatureProvider: a type mismatch.
func (p *Provider) IntEvaluation(_ context.Context, _ string, d int64, _ openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	return openfeature.IntResolutionDetail{Value: d, ProviderResolutionDetail: mismatch()}
}

// ObjectEvaluation implements openfeature.FeatureProvider: a type mismatch.
func (p *Provider) ObjectEvaluation(_ context.Context, _ string, d any, _ openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	return openfeature.InterfaceResolutionDetail{Value: d, ProviderResolutionDetail: mismatch()}
}

// Flags evaluates features through an OpenFeature client bound to a
// Provider, on an API instance of its own (isolated from the SDK's global
// singleton, so tests and several servers in one process do not share
// state). It is safe for concurrent use.
type Flags struct {
	api    *openfeature.EvaluationAPI
	client *openfeature.Client
}

// New returns Flags over NewProvider(fromContext), ready to evaluate.
func New(fromContext func(context.Context) *tenantstore.Tenant) (*Flags, error) {
	api := isolated.NewAPI()
	if err := api.SetProviderAndWait(context.Background(), NewProvider(fromContext)); err != nil {
		return nil, fmt.Errorf("starting the feature provider: %w", err)
	}
	return &Flags{api: api, client: api.NewClient()}, nil
}

// Enabled reports whether the tenant of ctx may use feature; off when
// there is no tenant or no such feature (fail closed).
func (f *Flags) Enabled(ctx context.Context, feature string) bool {
	return f.client.Boolean(ctx, feature, false, openfeature.EvaluationContext{})
}

// EnabledFor reports whether tenant t may use feature.
func (f *Flags) EnabledFor(ctx context.Context, t *tenantstore.Tenant, feature string) bool {
	return f.client.Boolean(ctx, feature, false, openfeature.NewTargetlessEvaluationContext(map[string]any{TenantAttribute: t}))
}

// Client returns the OpenFeature client, for callers that want evaluation
// details or hooks.
func (f *Flags) Client() *openfeature.Client { return f.client }

// Close shuts the API instance down.
func (f *Flags) Close() error { return f.api.Shutdown(context.Background()) }
