"""Two OpenSSL settings Python's ssl module has no call for, made on its context with ctypes.

- A client certificate asked for (RequestClientCert) or required (RequireAnyClientCert) but
  not verified, as Go does: a verify callback that accepts any chain. The client still proves
  it holds the certificate's key (OpenSSL checks its CertificateVerify signature).
- A list of key-exchange groups in preference order (curve_preferences of more than one
  curve): SSL_CTX_set1_groups_list. One curve needs none of this (SSLContext.set_ecdh_curve).

The SSL_CTX pointer is read from CPython's SSLContext object (the first field after the
object header) and checked against what the ssl module reports of the same context (its
options and verify mode) before anything is set on it; where that does not hold, or the
symbols are missing, OpenSSLUnavailable says so and the web config is refused.
"""

from __future__ import annotations

import _ssl
import ctypes
import ssl

_SSL_CTRL_SET_GROUPS_LIST = 92  # SSL_CTX_set1_groups_list is SSL_CTX_ctrl with this command
_VerifyCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


def _accept_any(preverify_ok: int, store: int | None) -> int:
    return 1


# Referenced for the life of the process: OpenSSL keeps the bare function pointer.
_ACCEPT_ANY = _VerifyCallback(_accept_any)


class OpenSSLUnavailable(Exception):
    """This Python's ssl module does not expose its OpenSSL context in the way expected."""


def _library() -> ctypes.CDLL:
    """libssl as the ssl module links it (the symbols resolve through _ssl's dependencies)."""
    path = getattr(_ssl, "__file__", None)
    try:
        lib = ctypes.CDLL(path)  # None: the ssl module is linked into the interpreter
        lib.SSL_CTX_get_options.restype = ctypes.c_uint64
        lib.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
        lib.SSL_CTX_get_verify_mode.restype = ctypes.c_int
        lib.SSL_CTX_get_verify_mode.argtypes = [ctypes.c_void_p]
        lib.SSL_CTX_set_verify.restype = None
        lib.SSL_CTX_set_verify.argtypes = [ctypes.c_void_p, ctypes.c_int, _VerifyCallback]
        lib.SSL_CTX_ctrl.restype = ctypes.c_long
        lib.SSL_CTX_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_char_p]
    except (OSError, AttributeError) as exc:
        raise OpenSSLUnavailable(f"libssl functions not found: {exc}") from None
    return lib


def _ssl_ctx(lib: ctypes.CDLL, context: ssl.SSLContext) -> int:
    """The context's SSL_CTX pointer, once OpenSSL reports the same settings for it."""
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer:
        raise OpenSSLUnavailable("no SSL_CTX found in the SSLContext")
    mode = {ssl.CERT_NONE: 0, ssl.CERT_OPTIONAL: 1, ssl.CERT_REQUIRED: 3}[context.verify_mode]
    if (
        lib.SSL_CTX_get_options(pointer) != int(context.options)
        or lib.SSL_CTX_get_verify_mode(pointer) != mode
    ):
        raise OpenSSLUnavailable("the SSLContext's layout is not the one expected")
    return int(pointer)


def accept_any_client_certificate(context: ssl.SSLContext) -> None:
    """Keep the context's verify mode (asking for, or requiring, a client certificate) but
    accept whatever chain the client sends."""
    lib = _library()
    pointer = _ssl_ctx(lib, context)
    lib.SSL_CTX_set_verify(pointer, lib.SSL_CTX_get_verify_mode(pointer), _ACCEPT_ANY)


def set_groups(context: ssl.SSLContext, names: list[str]) -> None:
    """Offer these key-exchange groups (OpenSSL names), in this order, for TLS 1.2 and 1.3."""
    lib = _library()
    groups = ":".join(names).encode()
    if lib.SSL_CTX_ctrl(_ssl_ctx(lib, context), _SSL_CTRL_SET_GROUPS_LIST, 0, groups) != 1:
        raise OpenSSLUnavailable(f"OpenSSL refused the groups {':'.join(names)}")
