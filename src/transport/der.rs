//! The two facts the pinned-certificate check needs from an X.509 certificate that webpki
//! will not give for a CA used as a server certificate: its validity period and whether it
//! names itself as issuer. A minimal DER walk (RFC 5280 4.1, X.690), nothing kept.

/// `(notBefore, notAfter)` in seconds since 1970; None when the DER is not a certificate.
pub fn validity(cert: &[u8]) -> Option<(u64, u64)> {
    let fields = tbs_fields(cert)?;
    let (tag, validity, _) = tlv(fields.validity)?;
    if tag != SEQUENCE {
        return None;
    }
    let (t1, before, rest) = tlv(validity)?;
    let (t2, after, rest) = tlv(rest)?;
    if !rest.is_empty() {
        return None;
    }
    Some((time(t1, before)?, time(t2, after)?))
}

/// Whether the issuer and subject names are the same bytes (a self-signed certificate).
pub fn issuer_is_subject(cert: &[u8]) -> Option<bool> {
    let fields = tbs_fields(cert)?;
    Some(fields.issuer == fields.subject)
}

const SEQUENCE: u8 = 0x30;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

struct TbsFields<'a> {
    issuer: &'a [u8],
    /// The whole Validity TLV.
    validity: &'a [u8],
    subject: &'a [u8],
}

/// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
/// serialNumber, signature, issuer, validity, subject, ... }, ... }
fn tbs_fields(cert: &[u8]) -> Option<TbsFields<'_>> {
    let (tag, certificate, _) = tlv(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = tlv(certificate)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, _, mut rest) = tlv(tbs)?;
    if tag == 0xa0 {
        // The version came first: the serial number follows.
        rest = tlv(rest)?.2;
    }
    let (_, _, rest) = tlv(rest)?; // signature algorithm
    let (issuer, rest) = whole_tlv(rest)?;
    let (validity, rest) = whole_tlv(rest)?;
    let (subject, _) = whole_tlv(rest)?;
    Some(TbsFields {
        issuer,
        validity,
        subject,
    })
}

/// One tag-length-value (definite lengths up to 4 bytes): (tag, value, what follows).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, after) = rest.split_at(count);
        rest = after;
        bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b))
    };
    if rest.len() < len {
        return None;
    }
    let (value, after) = rest.split_at(len);
    Some((tag, value, after))
}

/// One TLV with its tag and length bytes, and what follows.
fn whole_tlv(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (_, _, after) = tlv(input)?;
    let used = input.len() - after.len();
    Some((&input[..used], after))
}

/// UTCTime `YYMMDDHHMMSSZ` (years 1950..2049) or GeneralizedTime `YYYYMMDDHHMMSSZ`, as
/// RFC 5280 4.1.2.5 requires them (UTC, seconds, no fractions).
fn time(tag: u8, value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?.strip_suffix('Z')?;
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match (tag, text.len()) {
        (UTC_TIME, 12) => {
            let yy: u64 = text[..2].parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        (GENERALIZED_TIME, 14) => (text[..4].parse().ok()?, &text[4..]),
        _ => return None,
    };
    let field = |i: usize| rest[i..i + 2].parse::<u64>().ok();
    let (month, day, hour, minute, second) =
        (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = crate::sign::time::days_from_civil(year, month, day)?;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(time(UTC_TIME, b"700101000000Z"), Some(0));
        assert_eq!(time(UTC_TIME, b"000229120000Z"), Some(951_825_600));
        assert_eq!(
            time(GENERALIZED_TIME, b"20380119031408Z"),
            Some(2_147_483_648)
        );
        assert_eq!(
            time(GENERALIZED_TIME, b"99991231235959Z"),
            Some(253_402_300_799)
        );
        for bad in [
            &b"700101000000"[..],
            b"7001010000Z",
            b"701301000000Z",
            b"70010100000aZ",
        ] {
            assert_eq!(time(UTC_TIME, bad), None, "{bad:?}");
        }
        assert_eq!(time(GENERALIZED_TIME, b"700101000000Z"), None);
    }

    #[test]
    fn validity_and_self_signature_of_real_certificates() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 2, 29);
        params.not_after = rcgen::date_time_ymd(2051, 1, 1);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "self");
        let ca = params.self_signed(&key).unwrap();
        let (before, after) = validity(ca.der()).unwrap();
        assert_eq!(before, 1_582_934_400);
        assert_eq!(after, 2_556_143_999 + 1);
        assert_eq!(issuer_is_subject(ca.der()), Some(true));

        let issuer = rcgen::Issuer::new(params, key);
        let mut leaf = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        leaf.distinguished_name
            .push(rcgen::DnType::CommonName, "leaf");
        let leaf = leaf
            .signed_by(&rcgen::KeyPair::generate().unwrap(), &issuer)
            .unwrap();
        assert_eq!(issuer_is_subject(leaf.der()), Some(false));
        assert!(validity(leaf.der()).is_some());
    }

    #[test]
    fn never_panics_on_junk() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["x".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().to_vec();
        for end in 0..der.len() {
            let _ = validity(&der[..end]);
            let _ = issuer_is_subject(&der[..end]);
        }
        for i in 0..der.len() {
            let mut bent = der.clone();
            bent[i] ^= 0xff;
            let _ = validity(&bent);
        }
        assert_eq!(validity(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }
}
