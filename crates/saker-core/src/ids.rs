//! Identifiers: execution ids, task-run ids and flow references.
//!
//! Kestra makes ids with `IdUtils.create()` = devskiller `FriendlyId.createFriendlyId()`: a
//! random UUID read as an unsigned 128-bit number (most significant 64 bits first) and written
//! in base 62 with the digits `0-9A-Za-z`, without padding. Most ids are 22 characters, about
//! one in eight is shorter. The randomness is the caller's: constructors take the `u128` (or a
//! [`uuid::Uuid`]), so the core stays deterministic.
//!
//! Ids read from documents are kept as given: Kestra accepts any string there.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

const BASE62_DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Encodes a 128-bit value as a Kestra friendly id.
pub fn friendly_id(value: u128) -> String {
    if value == 0 {
        return "0".to_owned();
    }
    let mut digits = Vec::with_capacity(22);
    let mut rest = value;
    while rest > 0 {
        digits.push(BASE62_DIGITS[(rest % 62) as usize]);
        rest /= 62;
    }
    digits.reverse();
    // Only ASCII digits were pushed.
    String::from_utf8(digits).unwrap_or_default()
}

/// Decodes a friendly id back to its 128-bit value; `None` for non-base62 text or values
/// wider than 128 bits.
pub fn decode_friendly_id(text: &str) -> Option<u128> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0u128, |acc, byte| {
        let digit = BASE62_DIGITS.iter().position(|&d| d == byte)? as u128;
        acc.checked_mul(62)?.checked_add(digit)
    })
}

/// A source of 128-bit values for new ids. The engine plugs in randomness; tests plug in
/// [`SequentialIds`].
pub trait IdSource {
    fn next_u128(&mut self) -> u128;

    fn execution_id(&mut self) -> ExecutionId {
        ExecutionId::from_u128(self.next_u128())
    }

    fn task_run_id(&mut self) -> TaskRunId {
        TaskRunId::from_u128(self.next_u128())
    }
}

/// Deterministic ids for tests and reproducible runs: the n-th value is a bijective scramble of
/// `seed + n`, so ids look like Kestra's (22 characters, no visible pattern) and never collide.
#[derive(Debug, Clone)]
pub struct SequentialIds {
    next: u128,
}

impl SequentialIds {
    pub fn new(seed: u128) -> Self {
        SequentialIds { next: seed }
    }
}

impl IdSource for SequentialIds {
    fn next_u128(&mut self) -> u128 {
        let n = self.next;
        self.next = self.next.wrapping_add(1);
        // Multiplying by an odd constant and xor-shifting are both bijections on u128.
        let mut x = n.wrapping_add(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9_94D0_49BB_1331_11EB);
        x ^= x >> 67;
        x = x.wrapping_mul(0x2545_F491_4F6C_DD1D_4F6C_DD1D_2545_F491 | 1);
        x ^= x >> 59;
        x
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The friendly id of a 128-bit value.
            pub fn from_u128(value: u128) -> Self {
                $name(friendly_id(value))
            }

            /// The friendly id of a UUID (what Kestra does with `UUID.randomUUID()`).
            pub fn from_uuid(uuid: uuid::Uuid) -> Self {
                Self::from_u128(uuid.as_u128())
            }

            /// An id taken as is (from a stored document, an API path, a test).
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }

            /// The UUID behind a friendly id, if this id is one.
            pub fn to_uuid(&self) -> Option<uuid::Uuid> {
                decode_friendly_id(&self.0).map(uuid::Uuid::from_u128)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

string_id!(
    /// An execution id (`execution.id`, `parentId`, `originalId`).
    ExecutionId
);

string_id!(
    /// A task-run id (`taskRun.id`, `parentTaskRunId`).
    TaskRunId
);

/// A flow at a given revision: what an execution runs against.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FlowRef {
    pub namespace: String,
    pub id: String,
    pub revision: u32,
}

impl FlowRef {
    pub fn new(namespace: impl Into<String>, id: impl Into<String>, revision: u32) -> Self {
        FlowRef {
            namespace: namespace.into(),
            id: id.into(),
            revision,
        }
    }

    /// Kestra's revision-qualified uid: `[tenant_]namespace_id_revision`.
    pub fn uid(&self, tenant: Option<&str>) -> String {
        match tenant {
            Some(tenant) => format!("{tenant}_{}_{}_{}", self.namespace, self.id, self.revision),
            None => format!("{}_{}_{}", self.namespace, self.id, self.revision),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_id_matches_devskiller_encoding() {
        // Expected values from an independent (Python) run of the devskiller algorithm (unsigned
        // big-endian 128-bit integer, base 62, digits 0-9A-Za-z).
        assert_eq!(friendly_id(0), "0");
        assert_eq!(friendly_id(61), "z");
        assert_eq!(friendly_id(62), "10");
        assert_eq!(friendly_id(u128::MAX), "7n42DGM5Tflk9n8mt7Fhc7");
        let uuid = uuid::Uuid::parse_str("c3587ec5-0976-497f-8374-61e0c2ea3da5").unwrap();
        assert_eq!(
            ExecutionId::from_uuid(uuid).as_str(),
            "5wbwf6yUxVBcr48AMbz9cb"
        );
    }

    #[test]
    fn decode_inverts_encode() {
        for value in [
            0,
            1,
            61,
            62,
            3_843,
            u128::MAX,
            0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
        ] {
            assert_eq!(decode_friendly_id(&friendly_id(value)), Some(value));
        }
        assert_eq!(decode_friendly_id("not-base62"), None);
        assert_eq!(decode_friendly_id(""), None);
        // One digit more than u128::MAX can hold.
        assert_eq!(decode_friendly_id("zzzzzzzzzzzzzzzzzzzzzz"), None);
    }

    #[test]
    fn sequential_ids_are_distinct_and_kestra_shaped() {
        let mut ids = SequentialIds::new(0);
        let all: Vec<_> = (0..1000).map(|_| ids.task_run_id()).collect();
        let unique: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
        assert!(all.iter().all(|id| (18..=22).contains(&id.as_str().len())));
        assert!(all.iter().filter(|id| id.as_str().len() == 22).count() > 700);
        let mut again = SequentialIds::new(0);
        assert_eq!(again.task_run_id(), all[0]);
    }

    #[test]
    fn ids_serialize_as_plain_strings() {
        let id = ExecutionId::new("6WLkqX2yAbCdEfGhIjKlMn");
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"6WLkqX2yAbCdEfGhIjKlMn\""
        );
        let back: TaskRunId = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(back, "abc");
        assert_eq!(
            FlowRef::new("io.kestra.tests", "demo", 3).uid(Some("main")),
            "main_io.kestra.tests_demo_3"
        );
    }
}
