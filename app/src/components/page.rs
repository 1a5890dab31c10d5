//! The body of a page whose data is one blocking resource.

use leptos::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::components::error_view::error_fallback;
use crate::error::AppError;

/// Renders `data` with `render` once it is in; a failure becomes the error page (with its HTTP
/// status).
pub fn page_view<T, V>(data: Resource<Result<T, AppError>>, render: fn(T) -> V) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            <ErrorBoundary fallback=error_fallback>
                {move || Suspend::new(async move { data.await.map(render) })}
            </ErrorBoundary>
        </Transition>
    }
}
