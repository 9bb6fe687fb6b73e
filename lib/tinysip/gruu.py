"""GRUUs (RFC 5627 §4.2, §5): finding this instance's binding in a REGISTER 2xx.

Owns: picking our Contact among every binding of the AOR by `+sip.instance` (and reg-id
when outbound is used), and reading `pub-gruu` / `temp-gruu` / `expires` from it. Must not:
compare Contact URIs to find ourselves (registrars rewrite them) or invent a GRUU.
"""
from tinysip.errors import ParseError
from tinysip.headers import parse_uint, unquote


def instance_of(value):
    """The URN inside a +sip.instance value: b'"<urn:uuid:x>"' -> b'urn:uuid:x' (lower)."""
    if value is None:
        return None
    v = unquote(value)
    if v[:1] == b"<" and v[-1:] == b">":
        v = v[1:-1]
    return v.lower()


def find_binding(contacts, instance, reg_id=None):
    """Our NameAddr among `contacts` (parsed Contact values of a 2xx), or None.

    `instance` is our URN (b'urn:uuid:...'); with `reg_id` the binding's reg-id must match
    too, because every flow of one instance shares the URN. A binding that echoes no reg-id
    is accepted when nothing better matches. Without `reg_id` (registered without outbound,
    after a 439) a binding without reg-id is the exact match; one with a reg-id (an older
    outbound flow of this instance) is only the fallback.
    """
    instance = instance.lower()
    fallback = None
    for na in contacts:
        if instance_of(na.param(b"+sip.instance")) != instance:
            continue
        rid = na.param(b"reg-id")
        if rid is None:
            if reg_id is None:
                return na  # registered without reg-id: the binding without one is ours
        elif reg_id is not None:
            if rid.strip().lstrip(b"0") == b"%d" % reg_id:
                return na
            continue  # another flow of this instance
        if fallback is None:
            fallback = na
    return fallback


def gruus(na):
    """(pub_gruu, temp_gruu) URIs as bytes, each None when the registrar gave none."""
    pub = na.param(b"pub-gruu")
    temp = na.param(b"temp-gruu")
    return (unquote(pub) if pub else None), (unquote(temp) if temp else None)


def binding_expires(na, header_expires, requested):
    """Granted seconds: the contact's expires param, else the Expires header, else ours.

    An unreadable or absurd value falls back to the next source (RFC 4475 scalar02).
    """
    for v in (na.param(b"expires") if na is not None else None, header_expires):
        if v:
            try:
                return parse_uint(v, 0xFFFFFFFF, "expires")
            except ParseError:
                pass
    return requested
