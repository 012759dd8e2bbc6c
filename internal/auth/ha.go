package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// HA handshake sizes (see the package comment).
const (
	HAHelloSize    = 4 + 1 + 32
	HAResponseSize = 32 + 32
	HAProofSize    = 32
	haVersion      = 1
)

var haMagic = []byte("SKHA")

// Errors of the HA handshake.
var (
	ErrHABadHello = errors.New("auth: HA hello is not a Skiff handshake (is the master's clusterSecret unset?)")
	ErrHABadProof = errors.New("auth: HA handshake proof does not verify (wrong clusterSecret or a replay)")
)

// HAHello is the master's first message on a new HA connection.
type HAHello struct {
	Bytes [HAHelloSize]byte
}

// NewHAHello draws a fresh master nonce.
func NewHAHello() HAHello {
	var h HAHello
	copy(h.Bytes[:], haMagic)
	h.Bytes[4] = haVersion
	_, _ = rand.Read(h.Bytes[5:])
	return h
}

func (h *HAHello) nonce() []byte { return h.Bytes[5:] }

func haMAC(secret []byte, role string, nonceM, nonceS []byte) []byte {
	m := hmac.New(sha256.New, secret)
	_, _ = m.Write([]byte("skiff-ha-" + role + "\x00"))
	_, _ = m.Write(nonceM)
	_, _ = m.Write(nonceS)
	return m.Sum(nil)
}

// HARespond is the slave's side: it checks the hello and returns its response and the master proof
// it expects next.
func HARespond(secret []byte, hello []byte) (resp [HAResponseSize]byte, wantProof [HAProofSize]byte, err error) {
	if len(hello) != HAHelloSize || !bytes.Equal(hello[:4], haMagic) {
		return resp, wantProof, ErrHABadHello
	}
	if hello[4] != haVersion {
		return resp, wantProof, fmt.Errorf("%w: version %d", ErrHABadHello, hello[4])
	}
	nonceM := hello[5:]
	nonceS := resp[:32]
	_, _ = rand.Read(nonceS)
	copy(resp[32:], haMAC(secret, "slave", nonceM, nonceS))
	copy(wantProof[:], haMAC(secret, "master", nonceM, nonceS))
	return resp, wantProof, nil
}

// Verify is the master's side: it checks the slave's response to this hello and returns the proof
// to send back.
func (h *HAHello) Verify(secret []byte, resp []byte) (proof [HAProofSize]byte, err error) {
	if len(resp) != HAResponseSize {
		return proof, ErrHABadProof
	}
	if !hmac.Equal(haMAC(secret, "slave", h.nonce(), resp[:32]), resp[32:]) {
		return proof, ErrHABadProof
	}
	copy(proof[:], haMAC(secret, "master", h.nonce(), resp[:32]))
	return proof, nil
}

// HACheckProof is the slave's last step: the master's proof must equal the expected one.
func HACheckProof(want [HAProofSize]byte, got []byte) error {
	if !hmac.Equal(want[:], got) {
		return ErrHABadProof
	}
	return nil
}
