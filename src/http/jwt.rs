//! JSON Web Tokens in their compact form (RFC 7519), signed with HS256 and nothing else.
//!
//! jobctl's tokens are HMAC-SHA256 over a key only this server holds, so the whole of JWT
//! it needs is base64url, JSON and one MAC: written here over `hmac` and `sha2` rather
//! than through a general JWT crate, whose RSA and elliptic-curve stacks would come along
//! unused (docs/design.md, "Tokens"). A token naming any other algorithm, `none`
//! included, is refused before its signature is looked at; the signature is compared in
//! constant time by `hmac` itself.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header of every token jobctl signs.
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// Not three base64url parts, a header or claims that are not JSON objects, or claims
    /// missing or mistyped.
    Malformed,
    /// A header naming another algorithm than HS256, or extensions (`crit`) it must
    /// understand.
    Algorithm,
    /// Signed with another key, or altered since.
    Signature,
    /// Its `exp` has passed.
    Expired,
    /// Its `nbf` has not come yet.
    NotYet,
    /// It names an audience (`aud`); jobctl's tokens have none.
    Audience,
}

/// The standard claims checked here, whatever else a token carries.
#[derive(serde::Deserialize)]
struct Times {
    exp: u64,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    aud: Option<serde_json::Value>,
}

#[derive(serde::Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

fn mac(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length")
}

/// `claims` as a token signed with `secret`.
pub(crate) fn sign<C: Serialize>(secret: &[u8], claims: &C) -> serde_json::Result<String> {
    let payload = serde_json::to_vec(claims)?;
    let mut token = format!("{}.{}", B64.encode(HEADER), B64.encode(payload));
    let mut m = mac(secret);
    m.update(token.as_bytes());
    let sig = B64.encode(m.finalize().into_bytes());
    token.push('.');
    token.push_str(&sig);
    Ok(token)
}

/// The claims of `token` when `secret` signed it with HS256 and it is valid at `now`
/// (seconds since the epoch): `exp` is required and not past, `nbf` when present has
/// come.
pub(crate) fn verify<C: DeserializeOwned>(
    secret: &[u8],
    token: &str,
    now: u64,
) -> Result<C, Invalid> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Invalid::Malformed);
    };
    let decoded = |part: &str| B64.decode(part).map_err(|_| Invalid::Malformed);
    let head: Header = serde_json::from_slice(&decoded(header)?).map_err(|_| Invalid::Malformed)?;
    if head.alg != "HS256" || head.crit.is_some() {
        return Err(Invalid::Algorithm);
    }
    let mut m = mac(secret);
    m.update(&token.as_bytes()[..header.len() + 1 + payload.len()]);
    m.verify_slice(&decoded(sig)?)
        .map_err(|_| Invalid::Signature)?;
    let payload = decoded(payload)?;
    let times: Times = serde_json::from_slice(&payload).map_err(|_| Invalid::Malformed)?;
    if times.aud.is_some() {
        return Err(Invalid::Audience);
    }
    if times.exp < now {
        return Err(Invalid::Expired);
    }
    if times.nbf.is_some_and(|nbf| nbf > now) {
        return Err(Invalid::NotYet);
    }
    serde_json::from_slice(&payload).map_err(|_| Invalid::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn forge(header: &str, claims: &Value, key: &[u8]) -> String {
        let signing = format!("{}.{}", B64.encode(header), B64.encode(claims.to_string()));
        let mut m = mac(key);
        m.update(signing.as_bytes());
        format!("{signing}.{}", B64.encode(m.finalize().into_bytes()))
    }

    #[test]
    fn a_signed_token_verifies_and_any_change_is_refused() {
        let claims = json!({"sub": "ci", "exp": 2000});
        let t = sign(KEY, &claims).unwrap();
        assert_eq!(verify::<Value>(KEY, &t, 2000), Ok(claims.clone()));
        assert_eq!(verify::<Value>(KEY, &t, 2001), Err(Invalid::Expired));
        assert_eq!(
            verify::<Value>(b"another key, just as long as that", &t, 1000),
            Err(Invalid::Signature)
        );
        let mut parts: Vec<String> = t.split('.').map(String::from).collect();
        parts[1] = B64.encode(json!({"sub": "root", "exp": 2000}).to_string());
        assert_eq!(
            verify::<Value>(KEY, &parts.join("."), 1000),
            Err(Invalid::Signature)
        );
        for bad in ["", "a.b", "a.b.c.d", "!.!.!", &format!("{t}.")] {
            assert_eq!(verify::<Value>(KEY, bad, 1000), Err(Invalid::Malformed));
        }
    }

    #[test]
    fn only_hs256_is_accepted() {
        let claims = json!({"sub": "ci", "exp": 2000});
        let none = format!(
            "{}.{}.",
            B64.encode(r#"{"alg":"none"}"#),
            B64.encode(claims.to_string())
        );
        assert_eq!(verify::<Value>(KEY, &none, 1000), Err(Invalid::Algorithm));
        for header in [
            r#"{"alg":"HS512"}"#,
            r#"{"alg":"hs256"}"#,
            r#"{"alg":"RS256"}"#,
            r#"{"alg":"HS256","crit":["b64"]}"#,
        ] {
            let t = forge(header, &claims, KEY);
            assert_eq!(verify::<Value>(KEY, &t, 1000), Err(Invalid::Algorithm));
        }
        let t = forge(r#"{"typ":"JWT","alg":"HS256","kid":"x"}"#, &claims, KEY);
        assert!(verify::<Value>(KEY, &t, 1000).is_ok());
    }

    #[test]
    fn exp_is_required_nbf_and_aud_are_checked() {
        let no_exp = forge(HEADER, &json!({"sub": "ci"}), KEY);
        assert_eq!(verify::<Value>(KEY, &no_exp, 0), Err(Invalid::Malformed));
        let text_exp = forge(HEADER, &json!({"sub": "ci", "exp": "2000"}), KEY);
        assert_eq!(verify::<Value>(KEY, &text_exp, 0), Err(Invalid::Malformed));
        let later = forge(HEADER, &json!({"exp": 2000, "nbf": 1500}), KEY);
        assert_eq!(verify::<Value>(KEY, &later, 1000), Err(Invalid::NotYet));
        assert!(verify::<Value>(KEY, &later, 1500).is_ok());
        let aud = forge(HEADER, &json!({"exp": 2000, "aud": "x"}), KEY);
        assert_eq!(verify::<Value>(KEY, &aud, 1000), Err(Invalid::Audience));
    }
}
