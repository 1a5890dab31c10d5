// `sqlx::migrate!` reads ./migrations when the crate compiles: a migration added or changed
// alone must compile it again.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
