//! The keys and element texts of a JSON-lines row: an object's keys and raw values in order,
//! a value flattened into the element texts of a field's shape, and the shape a value has.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// One JSON object's keys and raw values, in order.
pub(super) fn parse_object(line: &str) -> Result<Vec<(Cow<'_, str>, &RawValue)>, String> {
    struct ObjectVisitor;
    impl<'de> Visitor<'de> for ObjectVisitor {
        type Value = Vec<(Cow<'de, str>, &'de RawValue)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut v = Vec::new();
            while let Some(k) = map.next_key::<BorrowedKey>()? {
                v.push((k.0, map.next_value::<&RawValue>()?));
            }
            Ok(v)
        }
    }
    let mut de = serde_json::Deserializer::from_str(line);
    let v = de
        .deserialize_map(ObjectVisitor)
        .map_err(|e| format!("not a JSON object: {e}"))?;
    de.end()
        .map_err(|e| format!("text after the JSON object: {e}"))?;
    Ok(v)
}

/// A JSON object key, borrowed from the text unless it has escapes.
struct BorrowedKey<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for BorrowedKey<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_string()))
            }
        }
        d.deserialize_str(KeyVisitor).map(BorrowedKey)
    }
}

/// The element texts of a (possibly nested) JSON value for a field of this shape: a number's
/// spelling as it stands, a string unescaped (borrowed when it has no escapes).
pub(super) fn flatten<'t>(
    raw: &'t RawValue,
    shape: &[usize],
    out: &mut Vec<Cow<'t, str>>,
) -> Result<(), String> {
    let Some((&n, inner)) = shape.split_first() else {
        let s = raw.get();
        out.push(
            match s.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                Some(t) if !t.contains('\\') => Cow::Borrowed(t),
                Some(_) => {
                    Cow::Owned(serde_json::from_str::<String>(s).map_err(|e| e.to_string())?)
                }
                None => Cow::Borrowed(s),
            },
        );
        return Ok(());
    };
    let items: Vec<&'t RawValue> = serde_json::from_str(raw.get()).map_err(|_| {
        format!(
            "expected a subarray of shape {shape:?}, found {}",
            short(raw.get())
        )
    })?;
    if items.len() != n {
        return Err(format!(
            "subarray has {} elements where its dtype needs {n} (shape {shape:?})",
            items.len()
        ));
    }
    for item in items {
        flatten(item, inner, out)?;
    }
    Ok(())
}

fn short(s: &str) -> String {
    let t: String = s.chars().take(40).collect();
    if t.len() < s.len() {
        format!("{t}…")
    } else {
        t
    }
}

/// The nested-array shape of a JSON value (`[]` for a scalar).
pub(super) fn json_shape(raw: &RawValue) -> Vec<usize> {
    let mut shape = Vec::new();
    let mut cur: Option<Vec<&RawValue>> = serde_json::from_str(raw.get()).ok();
    while let Some(items) = cur {
        if items.is_empty() || shape.len() == 3 {
            break;
        }
        shape.push(items.len());
        cur = serde_json::from_str(items[0].get()).ok();
    }
    shape
}
