//! The OpenAPI document, served at `GET /openapi.json`: built from the same `routes!` calls that
//! make the router, so a route cannot be served without being described.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The document's fixed parts; the paths are added by the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ward",
        description = "PHI kept safe at rest: clients, sessions and their attachments, sealed in \
                       the database and stored as ward ciphertext. Errors are \
                       `{\"detail\": ..., \"code\": ...}`; every id outside the token's workspace \
                       answers 404."
    ),
    components(schemas(ErrorDoc, UploadForm)),
    modifiers(&BearerAuth)
)]
pub(crate) struct ApiDoc;

/// The `bearer` security scheme: a JWT (HS256) naming `sub`, `workspace_id`, `role`, `exp`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// An error answer.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct ErrorDoc {
    /// What was wrong, for a person (never a value the caller sent).
    detail: String,
    /// The rule id, for a program (`not_found`, `limit.file_size`, `token.expired`, …).
    code: String,
}

/// An upload: a multipart form with one part named `file` carrying the file and its name.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct UploadForm {
    /// The file (JPEG, PNG, WebP or PDF; 10 MiB at most).
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
}
