//! Topic names: `<topic_prefix>.<source>.<namespace>.<table>` for a table's
//! changes and `<topic_prefix>.<source>.transactions` for transaction markers.
//!
//! Kafka allows `[a-zA-Z0-9._-]`, at most 249 characters, and treats two names
//! that differ only in `.` versus `_` as the same topic (it refuses to create the
//! second). Each part is escaped on its own: every character outside the set
//! becomes `_` (one `_` per character, so `größe` → `gr__e`); dots inside a part
//! are kept, like Debezium does. Escaping and dots can make two tables share a
//! name: [`TopicRegistry`] remembers which table owns each name and refuses the
//! second with an error naming both, instead of mixing two tables in one topic.
//! Names are pure functions of their parts: the same table gets the same topic
//! on every run and every machine.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// Kafka's limit on topic name length.
pub const MAX_TOPIC_LEN: usize = 249;

/// A valid Kafka topic name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(String);

impl TopicName {
    /// Check a complete name as it is (nothing escaped).
    pub fn new(name: impl Into<String>) -> Result<TopicName, TopicNameError> {
        let name = name.into();
        if let Some(ch) = name.chars().find(|c| !is_legal(*c)) {
            return Err(TopicNameError::Illegal { name, ch });
        }
        check_shape(name)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TopicName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why a topic name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicNameError {
    /// Empty, `.` or `..`.
    #[error("{name:?} is not a usable Kafka topic name")]
    Reserved {
        /// The name.
        name: String,
    },
    /// A character outside `[a-zA-Z0-9._-]`.
    #[error("topic name {name:?} contains {ch:?}; Kafka allows only a-z, A-Z, 0-9, '.', '_', '-'")]
    Illegal {
        /// The name.
        name: String,
        /// The first illegal character.
        ch: char,
    },
    /// Longer than [`MAX_TOPIC_LEN`].
    #[error(
        "topic name {name} is {len} characters long, Kafka allows {MAX_TOPIC_LEN}; \
         shorten log.topic_prefix or the source name"
    )]
    TooLong {
        /// The name.
        name: String,
        /// Its length.
        len: usize,
    },
    /// Two different things would share a topic.
    #[error(
        "{first} and {second} would both be written to topic {topic} \
         (escaping replaces characters outside a-z A-Z 0-9 . _ - with '_', and Kafka treats \
         '.' and '_' as the same); capture only one of them or rename one"
    )]
    Collision {
        /// The topic (as the second would have named it).
        topic: String,
        /// What already owns it.
        first: String,
        /// What wanted it too.
        second: String,
    },
}

fn is_legal(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn check_shape(name: String) -> Result<TopicName, TopicNameError> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(TopicNameError::Reserved { name });
    }
    let len = name.len();
    if len > MAX_TOPIC_LEN {
        return Err(TopicNameError::TooLong { name, len });
    }
    Ok(TopicName(name))
}

/// One part of a topic name with every character outside `[a-zA-Z0-9._-]`
/// replaced by `_`.
pub fn escape_part(part: &str) -> Cow<'_, str> {
    if part.chars().all(is_legal) {
        Cow::Borrowed(part)
    } else {
        Cow::Owned(
            part.chars()
                .map(|c| if is_legal(c) { c } else { '_' })
                .collect(),
        )
    }
}

fn join(parts: &[&str]) -> Result<TopicName, TopicNameError> {
    let name = parts
        .iter()
        .map(|p| escape_part(p))
        .collect::<Vec<_>>()
        .join(".");
    check_shape(name)
}

/// `<prefix>.<source>.<namespace>.<table>`, each part escaped. The namespace
/// is the PostgreSQL schema or the MySQL database.
pub fn table_topic(
    prefix: &str,
    source: &str,
    namespace: &str,
    table: &str,
) -> Result<TopicName, TopicNameError> {
    join(&[prefix, source, namespace, table])
}

/// `<prefix>.<source>.transactions`, each part escaped.
pub fn transaction_topic(prefix: &str, source: &str) -> Result<TopicName, TopicNameError> {
    join(&[prefix, source, "transactions"])
}

/// The topics under one prefix (all sources of a process share one, so
/// sources cannot collide either), refusing two owners for one name.
#[derive(Debug, Clone)]
pub struct TopicRegistry {
    prefix: String,
    /// Kafka's collision form ('.' → '_') → (topic, owner description).
    owners: HashMap<String, (TopicName, String)>,
}

impl TopicRegistry {
    /// An empty registry for `prefix` (`log.topic_prefix`).
    pub fn new(prefix: impl Into<String>) -> TopicRegistry {
        TopicRegistry {
            prefix: prefix.into(),
            owners: HashMap::new(),
        }
    }

    /// The topic of a table; the same table always gets the same topic.
    pub fn table(
        &mut self,
        source: &str,
        namespace: &str,
        table: &str,
    ) -> Result<TopicName, TopicNameError> {
        let name = table_topic(&self.prefix, source, namespace, table)?;
        let owner = format!("table {namespace:?}.{table:?} of source {source}");
        self.claim(name, owner)
    }

    /// The transaction topic of the source.
    pub fn transactions(&mut self, source: &str) -> Result<TopicName, TopicNameError> {
        let name = transaction_topic(&self.prefix, source)?;
        let owner = format!("the transaction topic of source {source}");
        self.claim(name, owner)
    }

    /// The state topic of the source (`<prefix>.<source>.state`).
    pub fn state(&mut self, source: &str) -> Result<TopicName, TopicNameError> {
        let name = join(&[&self.prefix, source, "state"])?;
        let owner = format!("the state topic of source {source}");
        self.claim(name, owner)
    }

    /// Every topic handed out so far, sorted.
    pub fn topics(&self) -> Vec<TopicName> {
        let mut v: Vec<TopicName> = self.owners.values().map(|(t, _)| t.clone()).collect();
        v.sort();
        v
    }

    fn claim(&mut self, name: TopicName, owner: String) -> Result<TopicName, TopicNameError> {
        let key = name.as_str().replace('.', "_");
        match self.owners.get(&key) {
            Some((_, first)) if *first == owner => Ok(name),
            Some((_, first)) => Err(TopicNameError::Collision {
                topic: name.0,
                first: first.clone(),
                second: owner,
            }),
            None => {
                self.owners.insert(key, (name.clone(), owner));
                Ok(name)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_transaction_topics_join_parts_with_dots() {
        let t = table_topic("rowlog", "shop", "public", "orders").unwrap();
        assert_eq!(t.as_str(), "rowlog.shop.public.orders");
        let t = transaction_topic("rowlog", "shop").unwrap();
        assert_eq!(t.as_str(), "rowlog.shop.transactions");
    }

    #[test]
    fn characters_outside_the_set_become_underscores() {
        let t = table_topic("rowlog", "shop db", "Größe", "order$items-2024_x").unwrap();
        assert_eq!(t.as_str(), "rowlog.shop_db.Gr__e.order_items-2024_x");
        assert_eq!(escape_part("a/b\\c\"d e"), "a_b_c_d_e");
        assert!(matches!(escape_part("plain.Name-1_x"), Cow::Borrowed(_)));
        // Each character is one underscore, whatever its UTF-8 length.
        assert_eq!(escape_part("日本"), "__");
    }

    #[test]
    fn names_longer_than_249_are_refused() {
        let table = "t".repeat(249 - "p.s.n.".len());
        assert_eq!(
            table_topic("p", "s", "n", &table).unwrap().as_str().len(),
            249
        );
        let err = table_topic("p", "s", "n", &format!("{table}x")).unwrap_err();
        assert!(
            matches!(err, TopicNameError::TooLong { len: 250, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("allows 249"), "{err}");
    }

    #[test]
    fn whole_names_are_checked_without_escaping() {
        assert_eq!(TopicName::new("a.b_c-D9").unwrap().as_str(), "a.b_c-D9");
        assert!(matches!(
            TopicName::new("a b"),
            Err(TopicNameError::Illegal { ch: ' ', .. })
        ));
        for bad in ["", ".", ".."] {
            assert!(matches!(
                TopicName::new(bad),
                Err(TopicNameError::Reserved { .. })
            ));
        }
        assert!(matches!(
            TopicName::new("x".repeat(250)),
            Err(TopicNameError::TooLong { .. })
        ));
    }

    #[test]
    fn registry_gives_a_table_the_same_topic_every_time() {
        let mut r = TopicRegistry::new("rowlog");
        let a = r.table("pg", "public", "t").unwrap();
        assert_eq!(r.table("pg", "public", "t").unwrap(), a);
        let tx = r.transactions("pg").unwrap();
        assert_eq!(r.transactions("pg").unwrap(), tx);
        assert_eq!(r.topics(), vec![a, tx]);
    }

    #[test]
    fn registry_refuses_two_tables_escaped_to_one_topic() {
        let mut r = TopicRegistry::new("rowlog");
        r.table("pg", "public", "a b").unwrap();
        let err = r.table("pg", "public", "a$b").unwrap_err();
        let TopicNameError::Collision {
            topic,
            first,
            second,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(topic, "rowlog.pg.public.a_b");
        assert!(first.contains(r#""public"."a b""#), "{first}");
        assert!(second.contains(r#""public"."a$b""#), "{second}");
        assert!(err.to_string().contains("rowlog.pg.public.a_b"), "{err}");
    }

    #[test]
    fn registry_refuses_names_split_differently_by_dots() {
        let mut r = TopicRegistry::new("rowlog");
        r.table("my", "shop.eu", "orders").unwrap();
        assert!(matches!(
            r.table("my", "shop", "eu.orders"),
            Err(TopicNameError::Collision { .. })
        ));
    }

    #[test]
    fn registry_refuses_names_differing_only_in_dot_versus_underscore() {
        let mut r = TopicRegistry::new("rowlog");
        r.table("my", "shop", "eu_orders").unwrap();
        let err = r.table("my", "shop_eu", "orders").unwrap_err();
        assert!(matches!(err, TopicNameError::Collision { .. }), "{err}");
    }

    #[test]
    fn registry_refuses_sources_that_meet_in_one_topic() {
        let mut r = TopicRegistry::new("rowlog");
        r.table("a.b", "c", "d").unwrap();
        let err = r.table("a", "b.c", "d").unwrap_err();
        assert!(err.to_string().contains("of source a.b"), "{err}");
    }

    #[test]
    fn transaction_topic_never_collides_with_a_table_topic() {
        let mut r = TopicRegistry::new("rowlog");
        r.transactions("pg").unwrap();
        // A table topic has one more separator, and "transactions" has none.
        r.table("pg", "transactions", "x").unwrap();
        r.table("pg", "public", "transactions").unwrap();
    }
}
