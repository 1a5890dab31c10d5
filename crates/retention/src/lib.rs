//! The retention planner: which tags and manifests of a repository a policy keeps or deletes,
//! each decision with exactly one reason, written for people. Pure: no I/O, no clock (`now` is
//! a parameter), so the live what-if editor, scheduled runs and tests all get the same plan
//! from the same input.
//!
//! # Layout
//! - [`policy`]: [`RawPolicy`] (stored as JSON, edited in the form) and [`validate`], which
//!   reports every mistake at once with where it is and returns a [`Policy`].
//! - [`plan()`]: a [`Plan`]: a [`Decision`] for every tag and manifest, the deletion units in
//!   order, the deferred ones, the orphans, a [`Summary`].
//! - [`reason`]: [`Decision`], [`KeepReason`], [`DeleteReason`], each with `describe()`.
//! - [`apply`]: [`diff`] of two plans (what changes from the saved version) and
//!   [`simulate_apply`] (the inventory a plan leaves behind).
//!
//! # Semantics
//!
//! **Scope.** A policy covers one registry and the repositories matching its globs (`team/*`
//! matches `team/api`, not `team/a/b`; `team/**` matches both; `**` matches all). A plan for
//! a repository it does not cover decides nothing and deletes nothing.
//!
//! **Which tags are judged.** Every ordinary tag. Referrer tags (the `sha256-…` fallback
//! indexes and cosign's `.sig`, `.att`, `.sbom` tags) are never judged by the rules: they go
//! wherever the manifest they point at goes, which is normally with their subject.
//!
//! **How a tag is judged**, first match wins, and that is the reason shown:
//! 1. Its manifest could not be read (or the registry answers 404): **kept**, nothing unknown
//!    is deleted.
//! 2. It matches a **protected** pattern: **kept**. Protection beats everything else.
//! 3. The keep rules, OR-ed, tried in this order: a **tag pattern**; the **version
//!    requirement** (semver rules: `>=2.0.0` does not match the pre-release `2.1.0-rc.1`);
//!    **most recent N**; **newer than N days**.
//!    - *Most recent N* ranks the tags of the repository by the chosen key, ties by tag
//!      name: by version (tags that are versions only, highest first; a pre-release ranks
//!      below its release), by created date, or by
//!      first-seen date (newest first). Tags lacking the key are not ranked, so not kept by
//!      this rule. Every tag counts in the ranking, protected ones included: "keep the 10
//!      most recent" keeps the tags ranked 1 to 10.
//!    - *Newer than N days* uses the image's date: its created date (config, else annotation,
//!      else when first seen), else when first seen. Strictly newer than `now - N days` is kept.
//!      A tag whose age is unknown is **kept** (`NoDate`) when the policy has this rule:
//!      images without a date are never deleted first.
//! 4. Otherwise the tag is **deleted**, and the reason lists why each rule did not keep it
//!    ("rank 12 of 40 by version, beyond the 10 kept; created 45 days ago, older than 30
//!    days").
//!
//! **Manifests.** A manifest any kept tag points at is kept; its deleted tags are only
//! untagged (an `Untag` unit). Keeping "the 1 most recent" of two tags on one digest never
//! deletes that digest. A manifest all of whose tags are deleted is deleted. An index's
//! children are kept while any kept index uses them, and are otherwise deleted with the index.
//! A kept subject keeps its referrers (signatures, SBOMs, attestations), recursively; a deleted
//! subject takes its referrers and referrer tags with it, recursively. A referrer a kept tag
//! points at is kept. Manifests the registry answers 404 for are never deleted (there is
//! nothing to delete), and keep what they lead to. A manifest no tag, index or subject leads to
//! is kept: no rule decides about it.
//!
//! **Orphans**: referrers whose subject is not in the repository. They are listed in
//! [`Plan::orphans`], and deleted only when the policy says `orphans: delete` (with their own
//! referrers, as one unit). An orphan an ordinary tag points at is judged by that tag, like any
//! tagged manifest: kept with a kept tag, deleted with its deleted tags, whatever the mode.
//!
//! **Deletion units.** Each unit is what one confirmation and one apply step removes: an
//! `Untag` of one tag, or a `DeleteManifest` of one manifest with its index children no kept
//! manifest uses and its referrers, recursively, so an index child is never deleted on its
//! own. A manifest two deleted units share goes with the later unit, so it is never deleted
//! while a remaining index or subject uses it. Units are ordered oldest first (by the age of
//! the manifest, undated last), then by digest and tag.
//!
//! **The cap.** A run removes at most `max_deletions` units; the rest are listed in
//! [`Plan::deferred`], with the decision [`Decision::Deferred`] on their tags and manifests,
//! and a later run removes them.
//!
//! **Bytes freed** counts the blobs and manifests only this run's deleted manifests use, and no
//! kept or deferred manifest of the repository, each once (for the last unit using it). It is
//! an upper bound on what the registry's garbage collection can reclaim: other repositories of
//! the same registry may share the blobs, and nothing is reclaimed before garbage collection
//! runs.
//!
//! **Stable.** Planning again on the inventory a plan leaves behind ([`simulate_apply`]), with
//! the same `now`, deletes nothing more (once no unit is deferred): deleted tags rank below
//! every tag "most recent" keeps, so removing them changes no kept rank.

pub mod apply;
pub mod plan;
pub mod policy;
pub mod reason;

pub use apply::{PlanDiff, diff, simulate_apply};
pub use plan::{Deletion, ManifestDecision, Orphan, Plan, Selection, Summary, TagDecision, plan, plan_selection};
pub use policy::{MostRecent, OrphanMode, Policy, PolicyError, RankBy, RawKeep, RawPolicy, fires_between, validate};
pub use reason::{Decision, DeleteReason, KeepReason};
