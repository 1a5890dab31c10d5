//! JSON answers read the way islands read their props. The islands deserialize their props with
//! `serde_json::from_str`; server_fn's own JSON codec reads answers with `serde_json::from_slice`.
//! Each reader compiles its own copy of every `Deserialize` it reaches, so a type an island both
//! receives as props and asks the server for was in the WebAssembly twice. Answers the browser
//! reads go through [`JsonStr`] instead, and so do [`AppError`](crate::error::AppError)s: one JSON
//! reader in the browser. On the wire nothing changes: the same JSON, as `application/json`.

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// JSON, written with `serde_json::to_vec` and read with `serde_json::from_str`.
pub struct JsonStrEncoding;

impl ContentType for JsonStrEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonStrEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonStrEncoding {
    type Error = serde_json::Error;

    fn encode(value: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(value).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonStrEncoding {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(<serde_json::Error as serde::de::Error>::custom)?;
        serde_json::from_str(text)
    }
}

/// A server function's answer as JSON in the body of its `POST` response, read with
/// [`JsonStrEncoding`]: `#[server(output = JsonStr)]` on those the islands call.
pub type JsonStr = Post<JsonStrEncoding>;
