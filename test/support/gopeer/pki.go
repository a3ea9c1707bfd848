package main

// Certificate making for the rule matrix. crypto/x509.CreateCertificate makes
// everything it can; the few certificates it refuses to make (an MD5
// signature, a version 1 certificate, a negative serial, duplicate or
// hand-picked extensions, a public key Go cannot parse, a signature algorithm
// Go does not know) are made by re-encoding the TBSCertificate it produced
// with encoding/asn1 and signing that by hand (see resign). No openssl here.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// node is one certificate with the key it certifies.
type node struct {
	der  []byte
	cert *x509.Certificate // nil when Go cannot parse der
	key  crypto.Signer
}

// builder makes the certificates of one case against one clock.
type builder struct {
	now time.Time
}

func newBuilder() *builder { return &builder{now: time.Now()} }

func ecKey() crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func rsaKey(bits int) crypto.Signer {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func edKey() crypto.Signer {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

// caTmpl is a CA: CA:TRUE, keyUsage keyCertSign|cRLSign.
func caTmpl(cn string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"meshprobe test"}},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

// leafTmpl is a server certificate: CN the first name, DNS SANs, keyUsage
// digitalSignature, EKU serverAuth.
func leafTmpl(dns ...string) *x509.Certificate {
	t := &x509.Certificate{
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    dns,
	}
	if len(dns) > 0 {
		t.Subject.CommonName = dns[0]
	}
	return t
}

// issue signs tmpl for key with parent (self-signed when parent is nil).
// Zero times become now-1h .. now+24h; a zero serial becomes a random one.
func (b *builder) issue(tmpl *x509.Certificate, key crypto.Signer, parent *node) *node {
	t := *tmpl
	if t.SerialNumber == nil {
		t.SerialNumber = randSerial()
	}
	if t.NotBefore.IsZero() {
		t.NotBefore = b.now.Add(-time.Hour)
	}
	if t.NotAfter.IsZero() {
		t.NotAfter = b.now.Add(24 * time.Hour)
	}
	parentCert, parentKey := &t, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, &t, parentCert, key.Public(), parentKey)
	if err != nil {
		panic(fmt.Sprintf("CreateCertificate %q: %v", t.Subject.CommonName, err))
	}
	return mustNode(der, key)
}

func mustNode(der []byte, key crypto.Signer) *node {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		c = nil // a certificate Go cannot parse: kept as DER only
	}
	return &node{der: der, cert: c, key: key}
}

// ---- hand-built DER -------------------------------------------------------

// tbsCertificate mirrors RFC 5280's TBSCertificate closely enough to
// re-encode what CreateCertificate made, with fields changed.
type tbsCertificate struct {
	Raw                asn1.RawContent
	Version            int `asn1:"optional,explicit,default:0,tag:0"`
	SerialNumber       *big.Int
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Issuer             asn1.RawValue
	Validity           asn1.RawValue
	Subject            asn1.RawValue
	PublicKey          asn1.RawValue
	UniqueID           asn1.BitString   `asn1:"optional,tag:1"`
	SubjectUniqueID    asn1.BitString   `asn1:"optional,tag:2"`
	Extensions         []pkix.Extension `asn1:"omitempty,optional,explicit,tag:3"`
}

type certificateASN1 struct {
	TBS                asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
}

var (
	oidSigMD5WithRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}
	oidSigSHA256WithRSA  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSigECDSAWithS224  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 1}
	oidSigECDSAWithS256  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidPubECDSA          = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidPubRSAPSS         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidCurveSecp256k1    = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	oidExtSAN            = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidExtUnknownPrivate = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}
)

// signAlg is a signature algorithm a hand-built certificate is signed with.
type signAlg struct {
	oid     asn1.ObjectIdentifier
	hash    crypto.Hash
	rsaNull bool // RSA algorithms carry NULL parameters
}

var (
	sigMD5RSA     = signAlg{oidSigMD5WithRSA, crypto.MD5, true}
	sigSHA256RSA  = signAlg{oidSigSHA256WithRSA, crypto.SHA256, true}
	sigECDSA224   = signAlg{oidSigECDSAWithS224, crypto.SHA224, false}
	sigECDSA256   = signAlg{oidSigECDSAWithS256, crypto.SHA256, false}
	errUnsignable = errors.New("unsupported key for hand signing")
)

func (a signAlg) identifier() pkix.AlgorithmIdentifier {
	ai := pkix.AlgorithmIdentifier{Algorithm: a.oid}
	if a.rsaNull {
		ai.Parameters = asn1.NullRawValue
	}
	return ai
}

func digest(h crypto.Hash, msg []byte) []byte {
	switch h {
	case crypto.SHA224:
		s := sha256.Sum224(msg)
		return s[:]
	case crypto.MD5:
		s := md5.Sum(msg)
		return s[:]
	case crypto.SHA1:
		s := sha1.Sum(msg)
		return s[:]
	default:
		s := sha256.Sum256(msg)
		return s[:]
	}
}

func signRaw(key crypto.Signer, alg signAlg, tbs []byte) ([]byte, error) {
	d := digest(alg.hash, tbs)
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return rsa.SignPKCS1v15(rand.Reader, k, alg.hash, d)
	case *ecdsa.PrivateKey:
		return ecdsa.SignASN1(rand.Reader, k, d)
	}
	return nil, errUnsignable
}

// resign re-encodes n's TBSCertificate after edit and signs it with the
// issuer's key under alg. The issuer is n itself when issuer is nil.
func resign(n *node, issuer *node, alg signAlg, edit func(*tbsCertificate)) *node {
	var outer certificateASN1
	if _, err := asn1.Unmarshal(n.der, &outer); err != nil {
		panic(err)
	}
	var tbs tbsCertificate
	if _, err := asn1.Unmarshal(outer.TBS.FullBytes, &tbs); err != nil {
		panic(err)
	}
	tbs.Raw = nil
	tbs.SignatureAlgorithm = alg.identifier()
	if edit != nil {
		edit(&tbs)
	}
	tbsDER, err := asn1.Marshal(tbs)
	if err != nil {
		panic(err)
	}
	signer := n.key
	if issuer != nil {
		signer = issuer.key
	}
	sig, err := signRaw(signer, alg, tbsDER)
	if err != nil {
		panic(err)
	}
	der, err := asn1.Marshal(certificateASN1{
		TBS:                asn1.RawValue{FullBytes: tbsDER},
		SignatureAlgorithm: alg.identifier(),
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
	if err != nil {
		panic(err)
	}
	return mustNode(der, n.key)
}

// sigAlgFor is the usual algorithm for a hand-signed certificate whose
// issuer has key k.
func sigAlgFor(k crypto.Signer) signAlg {
	if _, ok := k.(*rsa.PrivateKey); ok {
		return sigSHA256RSA
	}
	return sigECDSA256
}

type algorithmIdentifierNoParams struct {
	Algorithm asn1.ObjectIdentifier
}

type ecAlgorithmIdentifier struct {
	Algorithm asn1.ObjectIdentifier
	Curve     asn1.ObjectIdentifier
}

// secp256k1SPKI is a SubjectPublicKeyInfo on secp256k1 holding the curve's
// generator G (a valid point, private key 1): Go 1.19 cannot parse the curve.
func secp256k1SPKI() []byte {
	point, _ := decodeHex("04" +
		"79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798" +
		"483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8")
	der, err := asn1.Marshal(struct {
		Algorithm ecAlgorithmIdentifier
		PublicKey asn1.BitString
	}{ecAlgorithmIdentifier{oidPubECDSA, oidCurveSecp256k1}, asn1.BitString{Bytes: point, BitLength: 8 * len(point)}})
	if err != nil {
		panic(err)
	}
	return der
}

// rsaPSSSPKI is k's public key under the id-RSASSA-PSS algorithm (no
// parameters: unrestricted), which Go 1.19 parses as an unknown key type.
func rsaPSSSPKI(k *rsa.PublicKey) []byte {
	pkcs1 := x509.MarshalPKCS1PublicKey(k)
	der, err := asn1.Marshal(struct {
		Algorithm algorithmIdentifierNoParams
		PublicKey asn1.BitString
	}{algorithmIdentifierNoParams{oidPubRSAPSS}, asn1.BitString{Bytes: pkcs1, BitLength: 8 * len(pkcs1)}})
	if err != nil {
		panic(err)
	}
	return der
}

func decodeHex(s string) ([]byte, error) {
	out := make([]byte, len(s)/2)
	for i := range out {
		var v byte
		for j := 0; j < 2; j++ {
			c := s[2*i+j]
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | (c - '0')
			case c >= 'a' && c <= 'f':
				v = v<<4 | (c - 'a' + 10)
			case c >= 'A' && c <= 'F':
				v = v<<4 | (c - 'A' + 10)
			default:
				return nil, fmt.Errorf("bad hex %q", s)
			}
		}
		out[i] = v
	}
	return out, nil
}

// ---- case material on disk ----------------------------------------------

// material is what one case serves and trusts.
type material struct {
	chain  [][]byte      // served, leaf first, in the case's order
	key    crypto.Signer // the key the server signs the handshake with
	bundle [][]byte      // the CA bundle the client trusts
	name   string        // the server name to verify
}

func ders(ns ...*node) [][]byte {
	out := make([][]byte, 0, len(ns))
	for _, n := range ns {
		out = append(out, n.der)
	}
	return out
}

func pemCerts(ds [][]byte) []byte {
	var sb strings.Builder
	for _, d := range ds {
		sb.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d}))
	}
	return []byte(sb.String())
}

func writeMaterial(dir string, m *material) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(m.key)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"chain.pem":  pemCerts(m.chain),
		"key.pem":    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		"bundle.pem": pemCerts(m.bundle),
		"name":       []byte(m.name + "\n"),
	}
	// name last: its presence marks a complete case directory.
	for _, f := range []string{"chain.pem", "key.pem", "bundle.pem", "name"} {
		if err := writeFileAtomic(filepath.Join(dir, f), files[f], 0o600); err != nil {
			return err
		}
	}
	return nil
}

func readMaterial(dir string) (*material, error) {
	nameBytes, err := os.ReadFile(filepath.Join(dir, "name"))
	if err != nil {
		return nil, err
	}
	chainPEM, err := os.ReadFile(filepath.Join(dir, "chain.pem"))
	if err != nil {
		return nil, err
	}
	bundlePEM, err := os.ReadFile(filepath.Join(dir, "bundle.pem"))
	if err != nil {
		return nil, err
	}
	key, err := loadKeyFile(filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, err
	}
	chain, err := pemDERs(chainPEM)
	if err != nil {
		return nil, err
	}
	bundle, err := pemDERs(bundlePEM)
	if err != nil {
		return nil, err
	}
	return &material{chain: chain, key: key, bundle: bundle, name: strings.TrimSpace(string(nameBytes))}, nil
}

func pemDERs(data []byte) ([][]byte, error) {
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			out = append(out, b.Bytes)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no CERTIFICATE blocks")
	}
	return out, nil
}

func loadKeyFile(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	var k any
	switch b.Type {
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: not a signing key", path)
	}
	return s, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func mustCIDR(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}
