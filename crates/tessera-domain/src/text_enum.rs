//! Enums stored and sent as short lowercase words (`"pending"`, `"sold"`): one definition gives
//! the word of each variant, parsing back with an error that lists the accepted words, JSON in
//! the same words, and (with the `sqlx` feature) decoding from a text column through
//! `TryFrom<String>`.

/// Defines an enum whose variants are written as the given words.
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err(format!("must be one of {}", [$($word),+].join(", "))),
                }
            }
        }

        $crate::text_enum::text_decode!($name);

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}

/// `Display` as the word (`as_str`), and `TryFrom<String>` through `FromStr`, which is how a
/// row decoder reads the enum from a text column (sqlx's `#[sqlx(try_from = "String")]`).
macro_rules! text_decode {
    ($($name:ty),+ $(,)?) => {$(
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
    )+};
}

pub(crate) use {text_decode, text_enum};

#[cfg(test)]
mod tests {
    text_enum! {
        /// A test enum.
        pub enum Light {
            Red = "red",
            Green = "green",
        }
    }

    #[test]
    fn words_round_trip() {
        for l in Light::ALL {
            assert_eq!(l.as_str().parse::<Light>().unwrap(), *l);
            assert_eq!(Light::try_from(l.to_string()).unwrap(), *l);
        }
        assert_eq!("blue".parse::<Light>().unwrap_err(), "must be one of red, green");
        assert_eq!(serde_json::to_string(&Light::Green).unwrap(), "\"green\"");
        assert_eq!(serde_json::from_str::<Light>("\"red\"").unwrap(), Light::Red);
        assert!(serde_json::from_str::<Light>("\"blue\"").is_err());
    }
}
