//! Reading an upload: a multipart form whose `image` part is the photo, plus text fields.

use noizylab_core::vision::{self, Photo, Refused};
use noizylab_kit::{ApiError, ApiResult};
use worker::{FormData, FormEntry, Request};

/// The largest photo file accepted (a 12 MP JPEG is a few MB; a PNG can be more).
pub const MAX_BYTES: usize = 25 * 1024 * 1024;

pub async fn form(req: &mut Request) -> ApiResult<FormData> {
    let multipart =
        req.headers().get("content-type").ok().flatten().is_some_and(|t| t.starts_with("multipart/form-data"));
    if !multipart {
        return Err(ApiError::UnsupportedMediaType(
            "send multipart/form-data with the photo in its `image` part".into(),
        ));
    }
    req.form_data().await.map_err(|_| ApiError::bad_request("the body is not a readable multipart form"))
}

/// A text field, trimmed, if present and not empty.
pub fn field(form: &FormData, name: &str) -> Option<String> {
    form.get_field(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The `image` part's bytes, if the form has one.
pub async fn image_bytes(form: &FormData) -> ApiResult<Option<Vec<u8>>> {
    match form.get("image") {
        Some(FormEntry::File(file)) => {
            if file.size() > MAX_BYTES {
                return Err(ApiError::PayloadTooLarge { limit: MAX_BYTES as u64 });
            }
            let bytes = file.bytes().await.map_err(|_| ApiError::bad_request("the image part could not be read"))?;
            Ok(Some(bytes))
        }
        Some(FormEntry::Field(_)) => Err(ApiError::invalid_field("image", "image is a file part, not text")),
        None => Ok(None),
    }
}

/// Decodes a photo, answering what is wrong with it as a person can act on it.
pub fn decode(bytes: &[u8], field: &str) -> ApiResult<Photo> {
    vision::decode(bytes).map_err(|refused| match refused {
        Refused::NotAnImage(why) => ApiError::UnsupportedMediaType(format!("{field}: {why}")),
        Refused::TooLarge(why) => ApiError::Unprocessable(format!("{field}: {why}")),
        Refused::Undecodable(why) => ApiError::Unprocessable(format!("{field}: {why}")),
    })
}
