package main

// The rule matrix: one case per rule by which Go 1.19's crypto/tls client and
// crypto/x509 verifier (as kube-apiserver's webhook client and grpc-go use
// them) accept or refuse a served chain. goError is Go's exact error text
// (the error under net/http's `Post "URL": ` wrapper), with the times Go
// prints written as <time>; gopeer_test.go checks every entry against Go
// itself. meshprobe is the diagnosis meshprobe must give.
//
// meshprobe follows the Go release current Kubernetes and Istio are built
// with (1.23/1.24), not the Go 1.19 this peer is built with. Where they
// differ, the case has a drift: what current Go says, and why; meshprobe is
// then current Go's verdict, and the differential test checks meshprobe
// against the drift while still checking that Go 1.19 says goError.

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

const (
	svcName   = "istiod.istio-system.svc"
	rootCN    = "meshprobe root CA"
	interCN   = "meshprobe intermediate CA"
	otherCN   = "other root CA"
	loopback  = "127.0.0.1"
	codeOK    = "ok"
	codeName  = "tls_name_mismatch"
	codeExp   = "tls_expired"
	codeNYV   = "tls_not_yet_valid"
	codeUA    = "tls_unknown_authority"
	codeInv   = "tls_invalid_certificate"
	codeProto = "tls_protocol_error"
)

// serverSpec is how the case's server speaks TLS.
type serverSpec struct {
	minVersion, maxVersion uint16
	cipherSuites           []uint16 // TLS 1.2 suites; HTTP/2 is then off on the server
	openssl                []string // serve with `openssl s_server` and these arguments instead
}

type rcase struct {
	name      string
	rule      string
	goError   string // Go 1.19's error; "" when Go 1.19 accepts
	meshprobe string // the code meshprobe gives: current Go's verdict
	drift     *drift // where current Go decides or words it otherwise than Go 1.19
	server    serverSpec
	build     func(b *builder) *material
}

// drift is what current Go (1.23/1.24) says where Go 1.19 says otherwise.
type drift struct {
	note    string // what changed, and in which release
	goError string // current Go's error text; "" when current Go accepts
	// match, when set, is the part of goError meshprobe's message is checked
	// for: the part confirmed from current Go's sources, where the whole
	// text (its wrapping) could not be run here.
	match string
}

// currentGoError is the error current Go gives: the drift's, else Go 1.19's.
func (c rcase) currentGoError() string {
	if c.drift != nil {
		return c.drift.goError
	}
	return c.goError
}

// Current Go's wording of an insecure-algorithm hint: Go 1.24 removed the
// GODEBUG x509sha1 escape hatch, and its error no longer suggests it.
const driftSHA1 = "Go 1.24 removed the x509sha1 GODEBUG setting; its error no longer suggests the override (same verdict)"

// Common texts.
const (
	errUnknownCA   = "x509: certificate signed by unknown authority"
	errExpired     = "x509: certificate has expired or is not yet valid: current time <time> is after <time>"
	errNotYetValid = "x509: certificate has expired or is not yet valid: current time <time> is before <time>"
	errEKU         = "x509: certificate specifies an incompatible key usage"
	errCritical    = "x509: unhandled critical extension"
	errCannotSign  = `x509: certificate signed by unknown authority (possibly because of "x509: invalid signature: parent certificate cannot sign this kind of certificate" while trying to verify candidate authority certificate "%s")`
	errHint        = `x509: certificate signed by unknown authority (possibly because of "%s" while trying to verify candidate authority certificate "%s")`
	errNC          = "x509: a root or intermediate certificate is not authorized to sign for this name: "
	errRemoteHS    = "remote error: tls: handshake failure"
)

// std is the usual PKI: root → intermediate → leaf(NAME), served [leaf,
// intermediate], bundle [root]. edit changes the leaf template.
type std struct {
	root, inter, leaf *node
}

func (b *builder) std(edit func(*x509.Certificate)) std {
	root := b.issue(caTmpl(rootCN), ecKey(), nil)
	inter := b.issue(caTmpl(interCN), ecKey(), root)
	lt := leafTmpl(svcName)
	if edit != nil {
		edit(lt)
	}
	leaf := b.issue(lt, ecKey(), inter)
	return std{root, inter, leaf}
}

func (s std) material() *material {
	return &material{chain: ders(s.leaf, s.inter), key: s.leaf.key, bundle: ders(s.root), name: svcName}
}

// direct: root → leaf, served [leaf], bundle [root].
func (b *builder) direct(rootEdit, leafEdit func(*x509.Certificate)) (root, leaf *node) {
	rt := caTmpl(rootCN)
	if rootEdit != nil {
		rootEdit(rt)
	}
	root = b.issue(rt, ecKey(), nil)
	lt := leafTmpl(svcName)
	if leafEdit != nil {
		leafEdit(lt)
	}
	leaf = b.issue(lt, ecKey(), root)
	return root, leaf
}

func directMaterial(root, leaf *node, name string) *material {
	return &material{chain: ders(leaf), key: leaf.key, bundle: ders(root), name: name}
}

// withInter: root(rootEdit) → intermediate(interEdit) → leaf(leafEdit).
func (b *builder) withInter(rootEdit, interEdit, leafEdit func(*x509.Certificate)) *material {
	rt := caTmpl(rootCN)
	if rootEdit != nil {
		rootEdit(rt)
	}
	root := b.issue(rt, ecKey(), nil)
	it := caTmpl(interCN)
	if interEdit != nil {
		interEdit(it)
	}
	inter := b.issue(it, ecKey(), root)
	lt := leafTmpl(svcName)
	if leafEdit != nil {
		leafEdit(lt)
	}
	leaf := b.issue(lt, ecKey(), inter)
	return std{root, inter, leaf}.material()
}

func (b *builder) expired(t *x509.Certificate) {
	t.NotBefore = b.now.Add(-48 * time.Hour)
	t.NotAfter = b.now.Add(-time.Hour)
}

func (b *builder) notYetValid(t *x509.Certificate) {
	t.NotBefore = b.now.Add(time.Hour)
	t.NotAfter = b.now.Add(48 * time.Hour)
}

func criticalExt(t *x509.Certificate) {
	t.ExtraExtensions = append(t.ExtraExtensions, pkix.Extension{
		Id: oidExtUnknownPrivate, Critical: true, Value: asn1.NullBytes,
	})
}

func ipNet(s string) []*net.IPNet { return []*net.IPNet{mustCIDR(s)} }

func allCases() []rcase {
	return []rcase{
		// ---- accepted chains and chain building -------------------------
		{name: "good_chain", rule: "leaf ← intermediate ← root, served [leaf, intermediate], bundle [root]",
			meshprobe: codeOK, build: func(b *builder) *material { return b.std(nil).material() }},
		{name: "chain_disordered", rule: "served chain out of order [leaf, root, intermediate]: Go uses every served certificate after the leaf as an unordered pool",
			meshprobe: codeOK, build: func(b *builder) *material {
				s := b.std(nil)
				m := s.material()
				m.chain = ders(s.leaf, s.root, s.inter)
				return m
			}},
		{name: "chain_extra_unrelated", rule: "served chain carries unrelated certificates besides the intermediate",
			meshprobe: codeOK, build: func(b *builder) *material {
				s := b.std(nil)
				other := b.issue(caTmpl(otherCN), ecKey(), nil)
				stray := b.issue(leafTmpl("stray.example.com"), ecKey(), other)
				m := s.material()
				m.chain = ders(s.leaf, other, s.inter, stray)
				return m
			}},
		{name: "chain_includes_root", rule: "served chain includes the root [leaf, intermediate, root]",
			meshprobe: codeOK, build: func(b *builder) *material {
				s := b.std(nil)
				m := s.material()
				m.chain = ders(s.leaf, s.inter, s.root)
				return m
			}},
		{name: "bundle_issuer_third", rule: "bundle of several CAs, the issuing root third",
			meshprobe: codeOK, build: func(b *builder) *material {
				s := b.std(nil)
				a := b.issue(caTmpl("other root CA A"), ecKey(), nil)
				c := b.issue(caTmpl("other root CA B"), ecKey(), nil)
				m := s.material()
				m.bundle = ders(a, c, s.root)
				return m
			}},
		{name: "bundle_same_subject_wrong_first", rule: "two roots with the same subject and different keys, the wrong one first in the bundle: Go tries every candidate (ordered by key id match)",
			meshprobe: codeOK, build: func(b *builder) *material {
				s := b.std(nil)
				impostor := b.issue(caTmpl(rootCN), ecKey(), nil)
				m := s.material()
				m.bundle = ders(impostor, s.root)
				return m
			}},
		{name: "root_expired_and_renewed", rule: "bundle holds an expired root and its renewal (same subject and key), expired one first: any valid path is enough",
			meshprobe: codeOK, build: func(b *builder) *material {
				key := ecKey()
				rt := caTmpl(rootCN)
				b.expired(rt)
				old := b.issue(rt, key, nil)
				renewed := b.issue(caTmpl(rootCN), key, nil)
				inter := b.issue(caTmpl(interCN), ecKey(), renewed)
				leaf := b.issue(leafTmpl(svcName), ecKey(), inter)
				return &material{chain: ders(leaf, inter), key: leaf.key, bundle: ders(old, renewed), name: svcName}
			}},
		{name: "bundle_with_cert_go_cannot_parse", rule: "bundle holds a certificate Go cannot parse (secp256k1 key) before the root: AppendCertsFromPEM skips it",
			meshprobe: codeOK, build: func(b *builder) *material {
				s := b.std(nil)
				junkRoot, junkLeaf := b.direct(nil, nil)
				junk := resign(junkLeaf, junkRoot, sigECDSA256, func(t *tbsCertificate) { t.PublicKey = asn1.RawValue{FullBytes: secp256k1SPKI()} })
				m := s.material()
				m.bundle = ders(junk, s.root)
				return m
			}},
		{name: "chain_over_64k", rule: "served chain over 64 KiB (leaf, intermediate and 180 copies of a filler certificate): Go's limit on a handshake message",
			goError: "tls: handshake message of length <n> bytes exceeds maximum of 65536 bytes", meshprobe: codeOK,
			drift: &drift{note: "Go 1.21 and later accept Certificate messages up to 256 KiB (maxHandshakeCertificateMsg); meshprobe keeps that limit"},
			build: func(b *builder) *material {
				s := b.std(nil)
				ft := leafTmpl("filler.example.com")
				ft.Subject.OrganizationalUnit = []string{strings.Repeat("filler ", 20)}
				filler := b.issue(ft, ecKey(), b.issue(caTmpl(otherCN), ecKey(), nil))
				m := s.material()
				for i := 0; i < 180; i++ {
					m.chain = append(m.chain, filler.der)
				}
				return m
			}},
		{name: "intermediate_as_anchor", rule: "server serves the leaf only, the bundle holds the intermediate: any bundle certificate is a trust anchor",
			meshprobe: codeOK, build: func(b *builder) *material {
				s := b.std(nil)
				return &material{chain: ders(s.leaf), key: s.leaf.key, bundle: ders(s.inter), name: svcName}
			}},
		{name: "self_signed_leaf_pinned", rule: "self-signed leaf (CA:FALSE) pinned in the bundle: a leaf found in the roots is a chain of one",
			meshprobe: codeOK, build: func(b *builder) *material {
				leaf := b.issue(leafTmpl(svcName), ecKey(), nil)
				return &material{chain: ders(leaf), key: leaf.key, bundle: ders(leaf), name: svcName}
			}},
		{name: "root_v1", rule: "version 1 root (no extensions) in the bundle: Go lets a v1 certificate sign, and does not require a root to be a CA",
			meshprobe: codeOK, build: func(b *builder) *material {
				key := ecKey()
				r := b.issue(caTmpl(rootCN), key, nil)
				v1 := resign(r, nil, sigECDSA256, func(t *tbsCertificate) { t.Version = 0; t.Extensions = nil })
				leaf := b.issue(leafTmpl(svcName), ecKey(), v1)
				return directMaterial(v1, leaf, svcName)
			}},

		// ---- unknown authority -------------------------------------------
		{name: "unknown_ca", rule: "leaf issued by another CA (different subject) than the bundle's", goError: errUnknownCA,
			meshprobe: codeUA, build: func(b *builder) *material {
				s := b.std(nil)
				other := b.issue(caTmpl(otherCN), ecKey(), nil)
				m := s.material()
				m.bundle = ders(other)
				return m
			}},
		{name: "unknown_ca_same_subject", rule: "bundle root has the issuer's subject but another key: the hint is a signature that does not verify",
			goError: fmt.Sprintf(errHint, "x509: ECDSA verification failure", rootCN), meshprobe: codeUA,
			build: func(b *builder) *material {
				s := b.std(nil)
				impostor := b.issue(caTmpl(rootCN), ecKey(), nil)
				m := s.material()
				m.bundle = ders(impostor)
				return m
			}},
		{name: "missing_intermediate", rule: "server serves the leaf only, the bundle holds the root", goError: errUnknownCA,
			meshprobe: codeUA, build: func(b *builder) *material {
				s := b.std(nil)
				m := s.material()
				m.chain = ders(s.leaf)
				return m
			}},
		{name: "self_signed_leaf_unpinned", rule: "self-signed leaf, bundle holds an unrelated root", goError: errUnknownCA,
			meshprobe: codeUA, build: func(b *builder) *material {
				leaf := b.issue(leafTmpl(svcName), ecKey(), nil)
				other := b.issue(caTmpl(otherCN), ecKey(), nil)
				return &material{chain: ders(leaf), key: leaf.key, bundle: ders(other), name: svcName}
			}},
		{name: "signature_check_limit", rule: "over 100 candidate issuers (same subject, wrong keys): Go stops at its signature check limit",
			goError: "x509: signature check attempts limit reached while verifying certificate chain", meshprobe: codeUA,
			build: func(b *builder) *material {
				root, leaf := b.direct(nil, nil)
				var bundle []*node
				for i := 0; i < 101; i++ {
					bundle = append(bundle, b.issue(caTmpl(rootCN), ecKey(), nil))
				}
				_ = root
				return &material{chain: ders(leaf), key: leaf.key, bundle: ders(bundle...), name: svcName}
			}},

		// ---- host name ----------------------------------------------------
		{name: "leaf_cn_only", rule: "leaf has no SAN, its CN is the name (legacy CN matching is off)",
			goError: "x509: certificate relies on legacy Common Name field, use SANs instead", meshprobe: codeName,
			build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) { t.DNSNames = nil }).material()
			}},
		{name: "san_lacks_name_cn_has_it", rule: "SAN lacks the name while the CN has it",
			goError: "x509: certificate is valid for other.istio-system.svc, not istiod.istio-system.svc", meshprobe: codeName,
			build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) { t.DNSNames = []string{"other.istio-system.svc"} }).material()
			}},
		{name: "uri_san_only", rule: "only a URI SAN (SPIFFE id), CN is the name",
			goError: "x509: certificate is not valid for any names, but wanted to match istiod.istio-system.svc", meshprobe: codeName,
			build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) {
					t.DNSNames = nil
					u, _ := url.Parse("spiffe://cluster.local/ns/istio-system/sa/istiod")
					t.URIs = []*url.URL{u}
				}).material()
			}},
		{name: "wildcard_ok", rule: "wildcard *.istio-system.svc matches one label", meshprobe: codeOK,
			build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) { t.DNSNames = []string{"*.istio-system.svc"} }).material()
			}},
		{name: "wildcard_two_labels", rule: "wildcard *.svc does not match two labels",
			goError: "x509: certificate is valid for *.svc, not istiod.istio-system.svc", meshprobe: codeName,
			build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) { t.DNSNames = []string{"*.svc"} }).material()
			}},
		{name: "wildcard_partial", rule: "partial wildcard istio*.istio-system.svc is not a pattern (compared literally)",
			goError: "x509: certificate is valid for istio*.istio-system.svc, not istiod.istio-system.svc", meshprobe: codeName,
			build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) { t.DNSNames = []string{"istio*.istio-system.svc"} }).material()
			}},
		{name: "wildcard_bare", rule: "a bare * SAN matches nothing of three labels",
			goError: "x509: certificate is valid for *, not istiod.istio-system.svc", meshprobe: codeName,
			build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) { t.DNSNames = []string{"*"} }).material()
			}},
		{name: "name_case_insensitive", rule: "SAN IstioD.Istio-System.SVC matches case-insensitively (ASCII)", meshprobe: codeOK,
			build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) { t.DNSNames = []string{"IstioD.Istio-System.SVC"} }).material()
			}},
		{name: "server_name_trailing_dot", rule: "server name with a trailing dot matches a SAN without one", meshprobe: codeOK,
			build: func(b *builder) *material {
				m := b.std(nil).material()
				m.name = svcName + "."
				return m
			}},
		{name: "san_trailing_dot", rule: "SAN with a trailing dot is not a valid pattern and is compared exactly",
			goError: "x509: certificate is valid for istiod.istio-system.svc., not istiod.istio-system.svc", meshprobe: codeName,
			build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) { t.DNSNames = []string{svcName + "."} }).material()
			}},
		{name: "ip_san_ok", rule: "IP server name with the IP in an IP SAN", meshprobe: codeOK,
			build: func(b *builder) *material {
				m := b.std(func(t *x509.Certificate) { t.IPAddresses = []net.IP{net.ParseIP(loopback)} }).material()
				m.name = loopback
				return m
			}},
		{name: "ip_in_dns_san", rule: "IP server name, the IP text only in a DNS SAN (IPs match IP SANs only)",
			goError: "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs", meshprobe: codeName,
			build: func(b *builder) *material {
				m := b.std(func(t *x509.Certificate) { t.DNSNames = []string{loopback} }).material()
				m.name = loopback
				return m
			}},
		{name: "ip_san_other_ip", rule: "IP server name, IP SAN of another address",
			goError: "x509: certificate is valid for 127.0.0.2, not 127.0.0.1", meshprobe: codeName,
			build: func(b *builder) *material {
				m := b.std(func(t *x509.Certificate) { t.IPAddresses = []net.IP{net.ParseIP("127.0.0.2")} }).material()
				m.name = loopback
				return m
			}},
		{name: "ip_cn_only", rule: "IP server name, no SAN, CN is the IP",
			goError: "x509: certificate relies on legacy Common Name field, use SANs instead", meshprobe: codeName,
			build: func(b *builder) *material {
				m := b.std(func(t *x509.Certificate) { t.DNSNames = nil; t.Subject.CommonName = loopback }).material()
				m.name = loopback
				return m
			}},

		// ---- validity -----------------------------------------------------
		{name: "leaf_expired", rule: "leaf past NotAfter", goError: errExpired, meshprobe: codeExp,
			build: func(b *builder) *material { return b.std(b.expired).material() }},
		{name: "leaf_not_yet_valid", rule: "leaf before NotBefore", goError: errNotYetValid, meshprobe: codeNYV,
			build: func(b *builder) *material { return b.std(b.notYetValid).material() }},
		{name: "intermediate_expired", rule: "intermediate past NotAfter", goError: errExpired, meshprobe: codeExp,
			build: func(b *builder) *material { return b.withInter(nil, b.expired, nil) }},
		{name: "intermediate_not_yet_valid", rule: "intermediate before NotBefore", goError: errNotYetValid, meshprobe: codeNYV,
			build: func(b *builder) *material { return b.withInter(nil, b.notYetValid, nil) }},
		{name: "root_expired", rule: "the bundle's root past NotAfter (roots are checked for validity too)", goError: errExpired, meshprobe: codeExp,
			build: func(b *builder) *material { return b.withInter(b.expired, nil, nil) }},

		// ---- order of checks ----------------------------------------------
		{name: "order_expired_unknown_ca", rule: "expired leaf from an unknown CA: leaf validity is checked before chain building",
			goError: errExpired, meshprobe: codeExp, build: func(b *builder) *material {
				m := b.std(b.expired).material()
				m.bundle = ders(b.issue(caTmpl(otherCN), ecKey(), nil))
				return m
			}},
		{name: "order_expired_before_name", rule: "expired leaf without the name: validity before host name",
			goError: errExpired, meshprobe: codeExp, build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) { b.expired(t); t.DNSNames = []string{"other.example.com"} }).material()
			}},
		{name: "order_name_before_authority", rule: "leaf without the name from an unknown CA: host name before chain building",
			goError: "x509: certificate is valid for other.example.com, not istiod.istio-system.svc", meshprobe: codeName,
			build: func(b *builder) *material {
				m := b.std(func(t *x509.Certificate) { t.DNSNames = []string{"other.example.com"} }).material()
				m.bundle = ders(b.issue(caTmpl(otherCN), ecKey(), nil))
				return m
			}},
		{name: "order_authority_before_eku", rule: "clientAuth-only leaf from an unknown CA: chain building before EKU",
			goError: errUnknownCA, meshprobe: codeUA, build: func(b *builder) *material {
				m := b.std(func(t *x509.Certificate) { t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }).material()
				m.bundle = ders(b.issue(caTmpl(otherCN), ecKey(), nil))
				return m
			}},
		{name: "order_chain_before_eku", rule: "clientAuth-only leaf under an expired intermediate: chain building before EKU",
			goError: errExpired, meshprobe: codeExp, build: func(b *builder) *material {
				return b.withInter(nil, b.expired, func(t *x509.Certificate) { t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} })
			}},
		{name: "order_critical_before_expiry", rule: "expired leaf with an unhandled critical extension: the extension check comes first",
			goError: errCritical, meshprobe: codeInv, build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) { b.expired(t); criticalExt(t) }).material()
			}},

		// ---- basic constraints and key usage of issuers -------------------
		{name: "intermediate_no_basic_constraints", rule: "v3 intermediate without basicConstraints cannot sign",
			goError: fmt.Sprintf(errCannotSign, interCN), meshprobe: codeInv,
			build: func(b *builder) *material {
				return b.withInter(nil, func(t *x509.Certificate) { t.BasicConstraintsValid = false; t.IsCA = false }, nil)
			}},
		{name: "intermediate_ca_false", rule: "intermediate with basicConstraints CA:FALSE cannot sign",
			goError: fmt.Sprintf(errCannotSign, interCN), meshprobe: codeInv,
			build: func(b *builder) *material {
				return b.withInter(nil, func(t *x509.Certificate) { t.IsCA = false }, nil)
			}},
		{name: "intermediate_v1", rule: "version 1 intermediate (no basicConstraints): may sign, but is not a CA",
			goError: "x509: certificate is not authorized to sign other certificates", meshprobe: codeInv,
			build: func(b *builder) *material {
				root := b.issue(caTmpl(rootCN), ecKey(), nil)
				i := b.issue(caTmpl(interCN), ecKey(), root)
				v1 := resign(i, root, sigECDSA256, func(t *tbsCertificate) { t.Version = 0; t.Extensions = nil })
				leaf := b.issue(leafTmpl(svcName), ecKey(), v1)
				return std{root, v1, leaf}.material()
			}},
		{name: "root_ca_false", rule: "root with basicConstraints CA:FALSE in the bundle signing the leaf",
			goError: fmt.Sprintf(errCannotSign, rootCN), meshprobe: codeInv,
			build: func(b *builder) *material {
				root, leaf := b.direct(func(t *x509.Certificate) { t.IsCA = false }, nil)
				return directMaterial(root, leaf, svcName)
			}},
		{name: "intermediate_ku_no_certsign", rule: "intermediate whose keyUsage lacks keyCertSign",
			goError: fmt.Sprintf(errCannotSign, interCN), meshprobe: codeInv,
			build: func(b *builder) *material {
				return b.withInter(nil, func(t *x509.Certificate) { t.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign }, nil)
			}},
		{name: "root_ku_no_certsign", rule: "root whose keyUsage lacks keyCertSign",
			goError: fmt.Sprintf(errCannotSign, rootCN), meshprobe: codeInv,
			build: func(b *builder) *material {
				return b.withInter(func(t *x509.Certificate) { t.KeyUsage = x509.KeyUsageDigitalSignature }, nil, nil)
			}},
		{name: "root_pathlen0_with_intermediate", rule: "root pathLen 0 above an intermediate",
			goError: "x509: too many intermediates for path length constraint", meshprobe: codeInv,
			build: func(b *builder) *material {
				return b.withInter(func(t *x509.Certificate) { t.MaxPathLen = 0; t.MaxPathLenZero = true }, nil, nil)
			}},
		{name: "intermediate_pathlen0_ok", rule: "intermediate pathLen 0 directly above the leaf", meshprobe: codeOK,
			build: func(b *builder) *material {
				return b.withInter(nil, func(t *x509.Certificate) { t.MaxPathLen = 0; t.MaxPathLenZero = true }, nil)
			}},

		// ---- leaf key usage and EKU ---------------------------------------
		{name: "leaf_ku_key_encipherment_only", rule: "ECDSA leaf with keyUsage keyEncipherment only (no digitalSignature): Go ignores leaf keyUsage",
			meshprobe: codeOK, build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) { t.KeyUsage = x509.KeyUsageKeyEncipherment }).material()
			}},
		{name: "leaf_is_ca", rule: "leaf with CA:TRUE", meshprobe: codeOK,
			build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) { t.IsCA = true; t.BasicConstraintsValid = true }).material()
			}},
		{name: "leaf_eku_client_auth", rule: "leaf EKU clientAuth only", goError: errEKU, meshprobe: codeInv,
			build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) { t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }).material()
			}},
		{name: "leaf_eku_any", rule: "leaf EKU anyExtendedKeyUsage only", meshprobe: codeOK,
			build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) { t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} }).material()
			}},
		{name: "leaf_no_eku", rule: "leaf without an EKU extension", meshprobe: codeOK,
			build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) { t.ExtKeyUsage = nil }).material()
			}},
		{name: "leaf_eku_unknown_only", rule: "leaf EKU holding only an OID Go does not know", goError: errEKU, meshprobe: codeInv,
			build: func(b *builder) *material {
				return b.std(func(t *x509.Certificate) {
					t.ExtKeyUsage = nil
					t.UnknownExtKeyUsage = []asn1.ObjectIdentifier{{1, 3, 6, 1, 4, 1, 99999, 2}}
				}).material()
			}},
		{name: "intermediate_eku_client_auth", rule: "intermediate EKU clientAuth only (EKUs nest down the chain)", goError: errEKU, meshprobe: codeInv,
			build: func(b *builder) *material {
				return b.withInter(nil, func(t *x509.Certificate) { t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }, nil)
			}},
		{name: "root_eku_client_auth", rule: "root EKU clientAuth only (EKUs nest down the chain, roots included)", goError: errEKU, meshprobe: codeInv,
			build: func(b *builder) *material {
				return b.withInter(func(t *x509.Certificate) { t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }, nil, nil)
			}},

		// ---- name constraints ---------------------------------------------
		{name: "nc_permitted_other_domain", rule: "root name constraints permit only example.com",
			goError: errNC + `DNS name "istiod.istio-system.svc" is not permitted by any constraint`, meshprobe: codeInv,
			build: func(b *builder) *material {
				return b.withInter(func(t *x509.Certificate) { t.PermittedDNSDomains = []string{"example.com"} }, nil, nil)
			}},
		{name: "nc_excluded", rule: "intermediate name constraints exclude istio-system.svc",
			goError: errNC + `DNS name "istiod.istio-system.svc" is excluded by constraint "istio-system.svc"`, meshprobe: codeInv,
			build: func(b *builder) *material {
				return b.withInter(nil, func(t *x509.Certificate) { t.ExcludedDNSDomains = []string{"istio-system.svc"} }, nil)
			}},
		{name: "nc_permitted_ok", rule: "root name constraints permit svc", meshprobe: codeOK,
			build: func(b *builder) *material {
				return b.withInter(func(t *x509.Certificate) { t.PermittedDNSDomains = []string{"svc"} }, nil, nil)
			}},
		{name: "nc_other_san_not_permitted", rule: "constraints apply to every SAN of the leaf, not just the name asked for",
			goError: errNC + `DNS name "istiod.example.com" is not permitted by any constraint`, meshprobe: codeInv,
			build: func(b *builder) *material {
				return b.withInter(func(t *x509.Certificate) { t.PermittedDNSDomains = []string{"istio-system.svc"} }, nil,
					func(t *x509.Certificate) { t.DNSNames = []string{svcName, "istiod.example.com"} })
			}},
		{name: "nc_ip_not_permitted", rule: "root IP name constraints permit only 10.0.0.0/8, leaf IP SAN 127.0.0.1",
			goError: errNC + `IP address "127.0.0.1" is not permitted by any constraint`, meshprobe: codeInv,
			build: func(b *builder) *material {
				m := b.withInter(func(t *x509.Certificate) { t.PermittedIPRanges = ipNet("10.0.0.0/8") }, nil,
					func(t *x509.Certificate) { t.IPAddresses = []net.IP{net.ParseIP(loopback)} })
				m.name = loopback
				return m
			}},
		{name: "nc_ca_own_san_not_permitted", rule: "a CA's own SANs must satisfy its own name constraints: intermediate permits svc but carries the SAN ca.example.com",
			goError: errNC + `DNS name "ca.example.com" is not permitted by any constraint`, meshprobe: codeInv,
			build: func(b *builder) *material {
				return b.withInter(nil, func(t *x509.Certificate) {
					t.PermittedDNSDomains = []string{"svc"}
					t.DNSNames = []string{"ca.example.com"}
				}, nil)
			}},
		{name: "nc_too_many_comparisons", rule: "more than 250000 name constraint comparisons (1000 SANs x 260 exclusions): Go gives up with an error without text",
			goError: "x509: unknown error", meshprobe: codeInv,
			build: func(b *builder) *material {
				var excl []string
				for i := 0; i < 260; i++ {
					excl = append(excl, fmt.Sprintf("x%d.example.com", i))
				}
				names := []string{svcName}
				for i := 1; i < 1000; i++ {
					names = append(names, fmt.Sprintf("n%d.istio-system.svc", i))
				}
				root, leaf := b.direct(func(t *x509.Certificate) { t.ExcludedDNSDomains = excl },
					func(t *x509.Certificate) { t.DNSNames = names })
				return directMaterial(root, leaf, svcName)
			}},

		// ---- extensions ---------------------------------------------------
		{name: "leaf_critical_extension", rule: "leaf with an unhandled critical extension", goError: errCritical, meshprobe: codeInv,
			build: func(b *builder) *material { return b.std(criticalExt).material() }},
		{name: "intermediate_critical_extension", rule: "intermediate with an unhandled critical extension", goError: errCritical, meshprobe: codeInv,
			build: func(b *builder) *material { return b.withInter(nil, criticalExt, nil) }},
		{name: "leaf_duplicate_extension", rule: "leaf carrying the SAN extension twice: Go refuses to parse it",
			goError: "tls: failed to parse certificate from server: x509: certificate contains duplicate extensions", meshprobe: codeInv,
			build: func(b *builder) *material {
				root, leaf := b.direct(nil, nil)
				dup := resign(leaf, root, sigECDSA256, func(t *tbsCertificate) {
					for _, e := range t.Extensions {
						if e.Id.Equal(oidExtSAN) {
							t.Extensions = append(t.Extensions, e)
							break
						}
					}
				})
				return directMaterial(root, dup, svcName)
			}},
		{name: "leaf_negative_serial", rule: "leaf with a negative serial number",
			meshprobe: codeInv,
			drift: &drift{note: "Go 1.23 and later refuse negative serial numbers when parsing (GODEBUG x509negativeserial=1 restores the old leniency)",
				goError: "tls: failed to parse certificate from server: x509: negative serial number"},
			build: func(b *builder) *material {
				root, leaf := b.direct(nil, nil)
				neg := resign(leaf, root, sigECDSA256, func(t *tbsCertificate) { t.SerialNumber = big.NewInt(-4242) })
				return directMaterial(root, neg, svcName)
			}},

		// ---- signature algorithms -----------------------------------------
		{name: "leaf_sha1_rsa", rule: "leaf signed with SHA-1/RSA",
			goError:   fmt.Sprintf(errHint, "x509: cannot verify signature: insecure algorithm SHA1-RSA (temporarily override with GODEBUG=x509sha1=1)", rootCN),
			meshprobe: codeInv,
			drift:     &drift{note: driftSHA1, goError: fmt.Sprintf(errHint, "x509: cannot verify signature: insecure algorithm SHA1-RSA", rootCN)},
			build: func(b *builder) *material {
				root := b.issue(caTmpl(rootCN), rsaKey(2048), nil)
				lt := leafTmpl(svcName)
				lt.SignatureAlgorithm = x509.SHA1WithRSA
				leaf := b.issue(lt, ecKey(), root)
				return directMaterial(root, leaf, svcName)
			}},
		{name: "leaf_sha1_ecdsa", rule: "leaf signed with ECDSA/SHA-1",
			goError:   fmt.Sprintf(errHint, "x509: cannot verify signature: insecure algorithm ECDSA-SHA1 (temporarily override with GODEBUG=x509sha1=1)", rootCN),
			meshprobe: codeInv,
			drift:     &drift{note: driftSHA1, goError: fmt.Sprintf(errHint, "x509: cannot verify signature: insecure algorithm ECDSA-SHA1", rootCN)},
			build: func(b *builder) *material {
				root := b.issue(caTmpl(rootCN), ecKey(), nil)
				lt := leafTmpl(svcName)
				lt.SignatureAlgorithm = x509.ECDSAWithSHA1
				leaf := b.issue(lt, ecKey(), root)
				return directMaterial(root, leaf, svcName)
			}},
		{name: "leaf_md5_rsa", rule: "leaf signed with MD5/RSA (hand-signed: Go will not sign with MD5)",
			goError: fmt.Sprintf(errHint, "x509: cannot verify signature: insecure algorithm MD5-RSA", rootCN), meshprobe: codeInv,
			build: func(b *builder) *material {
				root := b.issue(caTmpl(rootCN), rsaKey(2048), nil)
				leaf := b.issue(leafTmpl(svcName), ecKey(), root)
				return directMaterial(root, resign(leaf, root, sigMD5RSA, nil), svcName)
			}},
		{name: "leaf_ecdsa_sha224", rule: "leaf signed with ECDSA/SHA-224, an algorithm Go does not implement (hand-signed)",
			goError: fmt.Sprintf(errHint, "x509: cannot verify signature: algorithm unimplemented", rootCN), meshprobe: codeInv,
			build: func(b *builder) *material {
				root, leaf := b.direct(nil, nil)
				return directMaterial(root, resign(leaf, root, sigECDSA224, nil), svcName)
			}},
		{name: "leaf_rsa_pss_signature", rule: "leaf signed with RSASSA-PSS/SHA-256 by an RSA root", meshprobe: codeOK,
			build: func(b *builder) *material {
				root := b.issue(caTmpl(rootCN), rsaKey(2048), nil)
				lt := leafTmpl(svcName)
				lt.SignatureAlgorithm = x509.SHA256WithRSAPSS
				leaf := b.issue(lt, ecKey(), root)
				return directMaterial(root, leaf, svcName)
			}},
		{name: "root_sha1_self_signed", rule: "root's own signature is SHA-1/RSA: a trust anchor's self-signature is never checked", meshprobe: codeOK,
			build: func(b *builder) *material {
				rt := caTmpl(rootCN)
				rt.SignatureAlgorithm = x509.SHA1WithRSA
				root := b.issue(rt, rsaKey(2048), nil)
				leaf := b.issue(leafTmpl(svcName), ecKey(), root)
				return directMaterial(root, leaf, svcName)
			}},

		// ---- keys ----------------------------------------------------------
		{name: "leaf_rsa1024", rule: "RSA-1024 leaf key: Go has no floor at 2048 bits (Go 1.24 refuses RSA keys under 1024 bits only), whatever OpenSSL's security level says", meshprobe: codeOK,
			build: func(b *builder) *material {
				root := b.issue(caTmpl(rootCN), ecKey(), nil)
				leaf := b.issue(leafTmpl(svcName), rsaKey(1024), root)
				return directMaterial(root, leaf, svcName)
			}},
		{name: "root_rsa1024", rule: "RSA-1024 root key signing the leaf", meshprobe: codeOK,
			build: func(b *builder) *material {
				root := b.issue(caTmpl(rootCN), rsaKey(1024), nil)
				leaf := b.issue(leafTmpl(svcName), ecKey(), root)
				return directMaterial(root, leaf, svcName)
			}},
		{name: "root_rsa512", rule: "RSA-512 root key signing the leaf", meshprobe: codeInv,
			drift: &drift{note: "Go 1.24's crypto/rsa refuses keys under 1024 bits (GODEBUG rsa1024min=0 restores them), so the root cannot verify the leaf's signature",
				goError: fmt.Sprintf(errHint, "crypto/rsa: 512-bit keys are insecure (see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)", rootCN),
				match:   "crypto/rsa: 512-bit keys are insecure (see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)"},
			build: func(b *builder) *material {
				root := b.issue(caTmpl(rootCN), rsaKey(512), nil)
				leaf := b.issue(leafTmpl(svcName), ecKey(), root)
				return directMaterial(root, leaf, svcName)
			}},
		{name: "leaf_rsa512", rule: "RSA-512 leaf key, TLS 1.2 (a 512-bit key cannot make a TLS 1.3 RSA-PSS signature)", meshprobe: codeInv,
			drift: &drift{note: "Go 1.24's crypto/rsa refuses keys under 1024 bits, so the server's handshake signature cannot be checked",
				goError: "tls: invalid signature by the server certificate: crypto/rsa: 512-bit keys are insecure (see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)",
				match:   "crypto/rsa: 512-bit keys are insecure (see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)"},
			server: serverSpec{maxVersion: tls.VersionTLS12},
			build: func(b *builder) *material {
				root := b.issue(caTmpl(rootCN), ecKey(), nil)
				leaf := b.issue(leafTmpl(svcName), rsaKey(512), root)
				return directMaterial(root, leaf, svcName)
			}},
		{name: "leaf_ed25519", rule: "Ed25519 leaf key", meshprobe: codeOK,
			build: func(b *builder) *material {
				root := b.issue(caTmpl(rootCN), ecKey(), nil)
				leaf := b.issue(leafTmpl(svcName), edKey(), root)
				return directMaterial(root, leaf, svcName)
			}},
		{name: "leaf_secp256k1", rule: "leaf key on secp256k1, a curve Go cannot parse (hand-built SPKI; the server signs with a P-256 key)",
			goError: "tls: failed to parse certificate from server: x509: unsupported elliptic curve", meshprobe: codeInv,
			build: func(b *builder) *material {
				root, leaf := b.direct(nil, nil)
				k1 := resign(leaf, root, sigECDSA256, func(t *tbsCertificate) { t.PublicKey = asn1.RawValue{FullBytes: secp256k1SPKI()} })
				return directMaterial(root, k1, svcName)
			}},
		{name: "leaf_rsa_pss_key", rule: "leaf key under id-RSASSA-PSS, a public key type Go 1.19 does not parse (hand-built SPKI)",
			goError: "tls: server's certificate contains an unsupported type of public key: <nil>", meshprobe: codeInv,
			build: func(b *builder) *material {
				root := b.issue(caTmpl(rootCN), ecKey(), nil)
				key := rsaKey(2048)
				leaf := b.issue(leafTmpl(svcName), key, root)
				pss := resign(leaf, root, sigECDSA256, func(t *tbsCertificate) {
					t.PublicKey = asn1.RawValue{FullBytes: rsaPSSSPKI(&key.(*rsa.PrivateKey).PublicKey)}
				})
				return directMaterial(root, pss, svcName)
			}},
		{name: "handshake_key_mismatch", rule: "the server signs the handshake with a key other than its certificate's",
			goError: "tls: invalid signature by the server certificate: ECDSA verification failure", meshprobe: codeProto,
			build: func(b *builder) *material {
				root, leaf := b.direct(nil, nil)
				m := directMaterial(root, leaf, svcName)
				m.key = ecKey()
				return m
			}},

		// ---- TLS versions, cipher suites, groups --------------------------
		{name: "tls10_11_only", rule: "server offers only TLS 1.0 and 1.1 (Go clients require TLS 1.2)",
			goError: "remote error: tls: protocol version not supported", meshprobe: codeProto,
			server: serverSpec{minVersion: tls.VersionTLS10, maxVersion: tls.VersionTLS11},
			build:  func(b *builder) *material { return b.std(nil).material() }},
		{name: "tls12_only_ok", rule: "server offers only TLS 1.2 with Go's default suites", meshprobe: codeOK,
			server: serverSpec{maxVersion: tls.VersionTLS12},
			build:  func(b *builder) *material { return b.std(nil).material() }},
		{name: "tls12_cbc_sha256_only", rule: "TLS 1.2 server offering only ECDHE-ECDSA-AES128-SHA256, a suite Go's client does not offer by default",
			goError: errRemoteHS, meshprobe: codeProto,
			server: serverSpec{maxVersion: tls.VersionTLS12, cipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}},
			build:  func(b *builder) *material { return b.std(nil).material() }},
		{name: "tls12_3des_only", rule: "TLS 1.2 server offering only ECDHE-RSA-3DES-EDE-CBC-SHA: in Go 1.19's default client list", meshprobe: codeProto,
			drift:  &drift{note: "Go 1.23 removed 3DES from the default client cipher suites (GODEBUG tls3des=1 restores it)", goError: errRemoteHS},
			server: serverSpec{maxVersion: tls.VersionTLS12, cipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA}},
			build: func(b *builder) *material {
				root := b.issue(caTmpl(rootCN), ecKey(), nil)
				leaf := b.issue(leafTmpl(svcName), rsaKey(2048), root)
				return directMaterial(root, leaf, svcName)
			}},
		{name: "tls12_rsa_kex_only", rule: "TLS 1.2 server offering only RSA key exchange (AES128-GCM-SHA256): in Go 1.19's default client list", meshprobe: codeProto,
			drift:  &drift{note: "Go 1.22 removed RSA key exchange from the default client cipher suites (GODEBUG tlsrsakex=1 restores it)", goError: errRemoteHS},
			server: serverSpec{maxVersion: tls.VersionTLS12, cipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}},
			build: func(b *builder) *material {
				root := b.issue(caTmpl(rootCN), ecKey(), nil)
				leaf := b.issue(leafTmpl(svcName), rsaKey(2048), root)
				return directMaterial(root, leaf, svcName)
			}},
		{name: "tls12_dhe_only", rule: "TLS 1.2 server offering only DHE-RSA-AES128-GCM-SHA256 (openssl s_server): Go has no DHE",
			goError: errRemoteHS, meshprobe: codeProto,
			server: serverSpec{openssl: []string{"-cipher", "DHE-RSA-AES128-GCM-SHA256", "-no_tls1_3"}},
			build: func(b *builder) *material {
				root := b.issue(caTmpl(rootCN), ecKey(), nil)
				leaf := b.issue(leafTmpl(svcName), rsaKey(2048), root)
				return directMaterial(root, leaf, svcName)
			}},
		{name: "tls13_ffdhe_only", rule: "TLS 1.3 server whose only group is ffdhe2048 (openssl s_server): Go has no finite-field groups",
			goError: errRemoteHS, meshprobe: codeProto,
			server: serverSpec{openssl: []string{"-tls1_3", "-groups", "ffdhe2048"}},
			build: func(b *builder) *material {
				root, leaf := b.direct(nil, nil)
				return directMaterial(root, leaf, svcName)
			}},
		{name: "tls13_x448_only", rule: "TLS 1.3 server whose only group is X448 (openssl s_server): Go has no X448",
			goError: errRemoteHS, meshprobe: codeProto,
			server: serverSpec{openssl: []string{"-tls1_3", "-groups", "X448"}},
			build: func(b *builder) *material {
				root, leaf := b.direct(nil, nil)
				return directMaterial(root, leaf, svcName)
			}},
	}
}

func findCase(name string) (rcase, bool) {
	for _, c := range allCases() {
		if c.name == name {
			return c, true
		}
	}
	return rcase{}, false
}
