//! `/r/{registry}/{repository}:{tag}` and `…@{digest}`: one artifact — what it is, how to pull
//! it, what is inside (platforms or config and layers), an artifact-aware panel, annotations,
//! referrers, and the raw JSON with every digest a link.

use leptos::prelude::*;
use leptos_meta::{Link, Meta, Title};
use leptos_router::hooks::use_params_map;

use crate::api::{also_used_by, get_artifact};
use crate::components::badges::badges;
use crate::components::copy::CopyField;
use crate::components::fold::{folded, pairs_table};
use crate::components::json::json_view;
use crate::components::layout::Breadcrumbs;
use crate::components::page::page_view;
use crate::components::table::{cols, framed};
use crate::components::usage::also_used_view;
use crate::model::{
    AlsoUsed, ArtifactBody, ArtifactView, ConfigView, DateSource, DescriptorView, Outcome, Panel, PlatformEntry, ReferrerEntry,
    Verification, format_utc, human_size, relative_seconds, relative_time, short_digest,
};

#[component]
pub fn ArtifactPage() -> impl IntoView {
    let params = use_params_map();
    let key = Memo::new(move |_| {
        let p = params.read();
        (p.get("registry").unwrap_or_default(), p.get("repository").unwrap_or_default(), p.get("reference").unwrap_or_default())
    });
    // The artifact, and where else it is used (from the index: quick, and never in the way —
    // a failure there leaves the section out).
    let artifact = Resource::new_blocking(
        move || key.get(),
        |(r, p, x)| async move {
            let (a, also) = futures::join!(get_artifact(r.clone(), p.clone(), x.clone()), also_used_by(r, p, x));
            a.map(|a| (a, also.ok()))
        },
    );
    page_view(artifact, |(a, also)| artifact_view(a, also))
}

fn label(a: &ArtifactView) -> String {
    a.tag.clone().map(|t| format!(":{t}")).unwrap_or_else(|| format!("@{}", short_digest(&a.digest)))
}

/// "Delete this tag…" and "Delete this artifact…" for maintainers (disabled, with the reason,
/// where the registry cannot delete).
fn delete_links(a: &ArtifactView, base: &str) -> impl IntoView + use<> {
    use crate::model::{DeleteAbility, encode_component};
    let links: Vec<(String, &'static str)> = a
        .tag
        .iter()
        .map(|t| (format!("{base}/-/delete?tag={}", encode_component(t)), "Delete this tag…"))
        .chain(std::iter::once((format!("{base}/-/delete?digest={}", encode_component(&a.digest)), "Delete this artifact…")))
        .collect();
    match a.delete.clone() {
        DeleteAbility::Hidden => ().into_any(),
        DeleteAbility::Disabled(reason) => view! {
            <span class="cursor-not-allowed text-slate-400" title=reason.clone() data-testid="delete-disabled">{format!("Deleting is not possible here: {reason}")}</span>
        }
        .into_any(),
        DeleteAbility::Allowed => links
            .into_iter()
            .map(|(href, label)| view! { <a href=href class="text-rose-700 hover:underline dark:text-rose-400" data-testid="delete-link">{label}</a> })
            .collect_view()
            .into_any(),
    }
}

/// What it is, for people ("unreadable manifest" when it does not parse).
fn kind_label(a: &ArtifactView) -> &'static str {
    if a.problem.is_some() { "unreadable manifest" } else { a.kind.label() }
}

fn description(a: &ArtifactView) -> String {
    let size = a.total_size.map(|s| format!(", {}", human_size(s))).unwrap_or_default();
    format!("{} {}{size} in {}/{}", kind_label(a), short_digest(&a.digest), a.registry.host, a.repository)
}

/// How to fetch it, by kind: (label, command).
fn pull_commands(a: &ArtifactView) -> Vec<(&'static str, String)> {
    let name = format!("{}/{}", a.registry.host, a.repository);
    let pinned = format!("{name}@{}", a.digest);
    let tagged = a.tag.as_ref().map(|t| format!("{name}:{t}"));
    match a.kind.key() {
        "image" | "index" => {
            let mut v = Vec::new();
            if let Some(t) = &tagged {
                v.push(("docker", format!("docker pull {t}")));
            }
            v.push(("docker", format!("docker pull {pinned}")));
            v.push(("podman", format!("podman pull {}", tagged.clone().unwrap_or_else(|| pinned.clone()))));
            v
        }
        "helm-chart" => {
            let mut v = Vec::new();
            if let Some(t) = &a.tag {
                v.push(("helm", format!("helm pull oci://{name} --version {t}")));
            }
            v.push(("oras", format!("oras pull {pinned}")));
            v
        }
        _ => {
            let mut v = vec![("oras", format!("oras pull {pinned}"))];
            if let Some(t) = &tagged {
                v.insert(0, ("oras", format!("oras pull {t}")));
            }
            v
        }
    }
}

fn section(title: &'static str, id: &'static str, body: AnyView) -> impl IntoView {
    view! {
        <section class="mt-6" aria-labelledby=id>
            <h2 id=id class="mb-2 text-lg font-semibold">{title}</h2>
            {body}
        </section>
    }
}

/// The page body (plain markup: it is built inside a `Suspend`).
fn artifact_view(a: ArtifactView, also: Option<AlsoUsed>) -> impl IntoView {
    let base = format!("/r/{}/{}", a.registry.name, a.repository);
    let pinned = format!("{base}@{}", a.digest);
    let label = label(&a);
    let crumbs = vec![
        ("Registries".to_owned(), Some("/".to_owned())),
        (a.registry.title.clone(), Some(format!("/r/{}", a.registry.name))),
        (a.repository.clone(), Some(base.clone())),
        (label.clone(), None),
    ];
    let now = a.now;
    let created = a.created.map(|t| {
        let source = a.created_source.map(DateSource::label).unwrap_or_default();
        let exact = format_utc(t);
        view! { " · created " <time datetime=exact.clone() title=format!("{exact} ({source})")>{relative_seconds(t, now)}</time> }
    });
    let commands = pull_commands(&a);
    let graph_href = format!("{pinned}/-/referrers");
    let diff_action = format!("{base}/-/diff");
    let this_ref = a.tag.clone().unwrap_or_else(|| a.digest.clone());
    view! {
        <Title text=format!("{}{label} · Portolan", a.repository) />
        <Meta name="description" content=description(&a) />
        <Meta property="og:title" content=format!("{}{label}", a.repository) />
        <Meta property="og:description" content=description(&a) />
        <Meta property="og:type" content="website" />
        // The canonical page is the one pinned to the digest.
        <Link rel="canonical" href=pinned.clone() />
        <Breadcrumbs items=crumbs />
        <h1 class="mb-1 break-all font-mono text-2xl font-semibold">{a.repository.clone()}{label}</h1>
        <p class="mb-4 text-sm text-slate-600 dark:text-slate-400" data-testid="summary">
            <span class="rounded-sm bg-slate-100 px-1.5 py-0.5 text-slate-800 dark:bg-slate-800 dark:text-slate-200" data-kind=a.kind.key()>{kind_label(&a)}</span>
            " · " <span class="font-mono">{a.media_type.clone()}</span>
            {a.artifact_type.clone().map(|t| view! { " · artifact type " <span class="font-mono">{t}</span> })}
            {a.total_size.map(|s| format!(" · {} compressed", human_size(s)))}
            " · manifest " {human_size(a.manifest_size)}
            {created}
        </p>
        <div class="mb-2 grid gap-2 lg:grid-cols-2" data-testid="pull-commands">
            {commands.into_iter().map(|(tool, cmd)| view! { <CopyField text=cmd label=tool /> }).collect_view()}
            <CopyField text=a.digest.clone() label="digest" />
        </div>
        <p class="mb-4 flex flex-wrap gap-4 text-sm">
            <a href=pinned.clone() class="text-sky-700 hover:underline dark:text-sky-400" data-testid="permalink">"Permalink (pinned to this digest)"</a>
            <a href=graph_href class="text-sky-700 hover:underline dark:text-sky-400">"Referrer graph"</a>
            {delete_links(&a, &base)}
        </p>
        {a.tag.clone().map(|t| {
            let badge_base = format!("/badge/{}/{}:{t}", a.registry.name, a.repository);
            let target = format!("{base}:{t}");
            let mut list = vec![("size", format!("{badge_base}/size.svg"), target.clone()), ("signature", format!("{badge_base}/signed.svg"), target.clone())];
            if a.verification.is_some() {
                list.push(("verified", format!("{badge_base}/verified.svg"), target));
            }
            badges(&a.public_url, list)
        })}
        <form method="get" action=diff_action class="mb-4 flex flex-wrap items-center gap-2 text-sm">
            <input type="hidden" name="from" value=this_ref />
            <label for="diff-to" class="text-slate-600 dark:text-slate-400">"Compare with"</label>
            <input id="diff-to" name="to" required placeholder="another tag or digest" class="w-64 rounded-md border border-slate-300 bg-white px-2 py-1 dark:border-slate-700 dark:bg-slate-900" />
            <button type="submit" class="rounded-md border border-slate-300 px-3 py-1 hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800">"Compare"</button>
        </form>
        {a.problem.clone().map(|p| view! {
            <p role="status" class="mb-4 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200" data-testid="problem">{p}</p>
        })}
        {a.subject.clone().map(|s| view! {
            <p class="mb-4 text-sm" data-testid="subject">
                "Refers to " <a href=s.href class="font-mono text-sky-700 hover:underline dark:text-sky-400">{short_digest(&s.digest)}</a>
                " (" {s.media_type} ")"
            </p>
        })}
        {a.verification.clone().map(|v| section("Signatures", "signatures", verification_view(v, &base, now).into_any()))}
        {a.panel.clone().map(panel_view)}
        {body_view(a.body.clone())}
        {(!a.annotations.is_empty()).then(|| section("Annotations", "annotations", pairs_table(a.annotations.clone(), "annotations").into_any()))}
        {section("Referrers", "referrers", referrers_view(a.referrers.clone(), a.referrers_problem.clone(), a.verification.clone(), now).into_any())}
        {also.map(|also| also_used_view(also, "artifact"))}
        {section("Manifest JSON", "manifest-json", json_view(a.manifest_json.clone(), "manifest-json").into_any())}
    }
}

fn descriptor_row(d: DescriptorView, index: usize) -> impl IntoView {
    view! {
        <tr>
            <td class="px-3 py-1.5 text-right tabular-nums text-slate-500">{index}</td>
            <td class="px-3 py-1.5 font-mono text-xs break-anywhere">{d.media_type}</td>
            <td class="px-3 py-1.5 text-right tabular-nums">{human_size(d.size)}</td>
            <td class="px-3 py-1.5 font-mono text-xs"><a href=d.href class="text-sky-700 hover:underline dark:text-sky-400" title=d.digest.clone()>{short_digest(&d.digest)}</a></td>
        </tr>
    }
}

fn body_view(body: ArtifactBody) -> AnyView {
    match body {
        ArtifactBody::Index { platforms, others } => {
            let table = view! {
                {framed(Some("platforms"), cols(&["Platform", "Manifest", "Size", "Attestations"]), platforms.into_iter().map(platform_row).collect_view(), None)}
                {(!others.is_empty()).then(|| view! {
                    <h3 class="mt-4 mb-2 font-semibold">"Other entries"</h3>
                    {framed(None, cols(&["#", "Media type", "Size", "Digest"]), others.into_iter().enumerate().map(|(i, d)| descriptor_row(d, i + 1)).collect_view(), None)}
                })}
            };
            section("Platforms", "platforms", table.into_any()).into_any()
        }
        ArtifactBody::Manifest { config, image_config, layers } => {
            let total: u64 = layers.iter().map(|l| l.size).fold(0, u64::saturating_add);
            let count = layers.len();
            let foot = view! {
                <tr><td class="px-3 py-1.5"></td><td class="px-3 py-1.5">{format!("{count} layers")}</td><td class="px-3 py-1.5 text-right tabular-nums">{human_size(total)}</td><td></td></tr>
            };
            let layers_table = framed(
                Some("layers"),
                cols(&["#", "Media type", "Size", "Digest"]),
                layers.into_iter().enumerate().map(|(i, d)| descriptor_row(d, i + 1)).collect_view(),
                Some(foot.into_any()),
            );
            let config_section = match image_config {
                Some(c) => section("Config", "config", config_view(*c).into_any()).into_any(),
                None => section(
                    "Config",
                    "config",
                    view! {
                        <p class="text-sm">
                            <span class="font-mono">{config.media_type.clone()}</span> " · " {human_size(config.size)} " · "
                            <a href=config.href class="font-mono text-sky-700 hover:underline dark:text-sky-400">{short_digest(&config.digest)}</a>
                        </p>
                    }
                    .into_any(),
                )
                .into_any(),
            };
            view! { {config_section} {section("Layers", "layers", layers_table.into_any())} }.into_any()
        }
        ArtifactBody::Unreadable => ().into_any(),
    }
}

fn platform_row(p: PlatformEntry) -> impl IntoView {
    view! {
        <tr data-platform=p.platform.clone()>
            <th scope="row" class="px-3 py-1.5 font-mono font-medium"><a href=p.manifest.href.clone() class="text-sky-700 hover:underline dark:text-sky-400">{p.platform.clone()}</a></th>
            <td class="px-3 py-1.5 font-mono text-xs" title=p.manifest.digest.clone()>{short_digest(&p.manifest.digest)}</td>
            <td class="px-3 py-1.5 text-right tabular-nums">{p.image_size.map(human_size)}</td>
            <td class="px-3 py-1.5 text-xs">
                {p.problem.clone().map(|problem| view! {
                    <span class="mr-2 rounded-sm bg-rose-100 px-1 text-rose-800 dark:bg-rose-900 dark:text-rose-200" data-testid="platform-problem">{problem}</span>
                })}
                {p.attestations.into_iter().map(|a| {
                    let what = a.annotations.iter().find(|(k, _)| k == "vnd.docker.reference.type").map(|(_, v)| v.clone()).unwrap_or_else(|| "attestation".into());
                    view! { <a href=a.href class="mr-2 rounded-sm bg-amber-100 px-1 text-amber-900 hover:underline dark:bg-amber-900 dark:text-amber-100" data-attestation=a.digest>{what}</a> }
                }).collect_view()}
            </td>
        </tr>
    }
}

fn list(items: &[String]) -> String {
    items.join(" ")
}

fn config_view(c: ConfigView) -> impl IntoView {
    let mut facts: Vec<(String, String)> = Vec::new();
    let mut add = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            facts.push((k.to_owned(), v));
        }
    };
    add("created", c.created.clone());
    add("platform", c.platform.clone());
    add("entrypoint", Some(list(&c.entrypoint)));
    add("cmd", Some(list(&c.cmd)));
    add("user", c.user.clone());
    add("working dir", c.working_dir.clone());
    add("exposed ports", Some(c.exposed_ports.join(", ")));
    add("volumes", Some(c.volumes.join(", ")));
    let env: Vec<(String, String)> = c
        .env
        .iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (e.clone(), String::new()),
        })
        .collect();
    view! {
        <p class="mb-2 text-sm text-slate-600 dark:text-slate-400">
            <span class="font-mono">{c.media_type.clone()}</span> " · "
            <a href=format!("#config-json") class="text-sky-700 hover:underline dark:text-sky-400">"raw JSON"</a>
        </p>
        {c.problem.clone().map(|p| view! { <p class="mb-2 text-sm text-amber-800 dark:text-amber-300" data-testid="config-problem">{p}</p> })}
        {(!facts.is_empty()).then(|| pairs_table(facts, "config-facts"))}
        {(!env.is_empty()).then(|| view! { <h3 class="mt-4 mb-2 font-semibold">"Environment"</h3> {pairs_table(env, "env")} })}
        {(!c.labels.is_empty()).then(|| view! { <h3 class="mt-4 mb-2 font-semibold">"Labels"</h3> {pairs_table(c.labels.clone(), "labels")} })}
        {(!c.history.is_empty()).then(|| view! {
            <h3 class="mt-4 mb-2 font-semibold">"History"</h3>
            {framed(Some("history"), cols(&["#", "Created by", "Created", "Layer"]),
                        c.history.clone().into_iter().enumerate().map(|(i, h)| view! {
                            <tr>
                                <td class="px-3 py-1.5 text-right tabular-nums text-slate-500">{i + 1}</td>
                                <td class="px-3 py-1.5 font-mono text-xs">{folded(h.created_by)}{h.comment.map(|c| view! { <span class="ml-2 text-slate-500">{c}</span> })}</td>
                                <td class="px-3 py-1.5 text-xs whitespace-nowrap">{h.created}</td>
                                <td class="px-3 py-1.5 text-xs">{if h.empty_layer { "no" } else { "yes" }}</td>
                            </tr>
                        }).collect_view(), None)}
        })}
        <h3 id="config-json" class="mt-4 mb-2 font-semibold">"Config JSON"</h3>
        {json_view(c.raw, "config-json")}
    }
}

/// The colours of an outcome: verified green, not verified red, unsigned grey.
fn outcome_class(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Verified => "rounded-sm bg-emerald-100 px-1.5 py-0.5 text-xs text-emerald-900 dark:bg-emerald-900 dark:text-emerald-100",
        Outcome::NotVerified => "rounded-sm bg-rose-100 px-1.5 py-0.5 text-xs text-rose-900 dark:bg-rose-900 dark:text-rose-100",
        Outcome::Unsigned => "rounded-sm bg-slate-100 px-1.5 py-0.5 text-xs text-slate-700 dark:bg-slate-800 dark:text-slate-300",
    }
}

/// Every signature of the artifact with what verifying it concluded, under the summary.
fn verification_view(v: Verification, base: &str, now: i64) -> impl IntoView {
    let summary = v.summary();
    let outcome = v.outcome;
    let rows = v
        .signatures
        .clone()
        .into_iter()
        .map(|s| {
            let state = if s.verified { Outcome::Verified } else { Outcome::NotVerified };
            let said = if s.verified {
                format!("verified by policy {}", s.policy.clone().unwrap_or_default())
            } else {
                s.message.clone().unwrap_or_default()
            };
            let href = format!("{base}@{}", s.digest);
            view! {
                <tr data-signature=s.digest.clone() data-outcome=state.key() data-reason=s.reason.map(|r| r.key()).unwrap_or_default()>
                    <td class="px-3 py-1.5 text-xs">{s.format.clone()}</td>
                    <td class="px-3 py-1.5 font-mono text-xs"><a href=href class="text-sky-700 hover:underline dark:text-sky-400" title=s.digest.clone()>{short_digest(&s.digest)}</a>{(s.layer > 0).then(|| format!(" #{}", s.layer + 1))}</td>
                    <td class="px-3 py-1.5 text-xs break-anywhere">{s.signer.clone()}</td>
                    <td class="px-3 py-1.5 text-xs whitespace-nowrap">{s.signed_at.map(|t| relative_seconds(t, now))}</td>
                    <td class="px-3 py-1.5 text-xs">
                        <span class=outcome_class(state)>{s.label()}</span>
                        " " <span class="break-anywhere text-slate-600 dark:text-slate-400" data-testid="signature-reason">{said}</span>
                        {s.warnings.iter().map(|w| view! { <span class="block text-amber-800 dark:text-amber-300">{w.clone()}</span> }).collect_view()}
                    </td>
                    <td class="px-3 py-1.5 text-xs text-slate-600 dark:text-slate-400">{s.source.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="mb-2 text-sm" data-testid="verification" data-outcome=outcome.key()>
            <span class=outcome_class(outcome)>{outcome.label()}</span> " " {summary}
        </p>
        {(v.not_checked > 0).then(|| view! { <p class="mb-2 text-xs text-amber-800 dark:text-amber-300">{format!("{} more signatures were not checked: Portolan verifies at most a fixed number per artifact.", v.not_checked)}</p> })}
        {(!v.signatures.is_empty()).then(|| framed(Some("signatures"), cols(&["Format", "Signature", "Signer", "Signed", "Outcome", "Found through"]), rows, None))}
    }
}

fn referrers_view(referrers: Vec<ReferrerEntry>, problem: Option<String>, verification: Option<Verification>, now: i64) -> impl IntoView {
    if let Some(p) = problem {
        return view! { <p class="text-sm text-amber-800 dark:text-amber-300">"Referrers could not be listed: " {p}</p> }.into_any();
    }
    if referrers.is_empty() {
        return view! { <p class="text-sm text-slate-600 dark:text-slate-400">"Nothing refers to this artifact (no signature, SBOM or attestation)."</p> }.into_any();
    }
    let mut headings = vec!["Kind", "Artifact type", "Digest", "Created", "Found through"];
    if verification.is_some() {
        headings.push("Verification");
    }
    view! {
        {framed(Some("referrers"), cols(&headings),
                    referrers.into_iter().map(|r| {
                        let checked = verification.as_ref().map(|v| {
                            let cell = v.of_signature(&r.digest).map(|s| {
                                let state = if s.verified { Outcome::Verified } else { Outcome::NotVerified };
                                let title = s.message.clone().unwrap_or_else(|| format!("verified by policy {}", s.policy.clone().unwrap_or_default()));
                                view! { <span class=outcome_class(state) title=title data-outcome=state.key()>{s.label()}</span> }
                            });
                            view! { <td class="px-3 py-1.5 text-xs">{cell}</td> }
                        });
                        view! {
                            <tr data-referrer=r.digest.clone()>
                                <td class="px-3 py-1.5"><span class="rounded-sm bg-slate-100 px-1.5 py-0.5 text-xs dark:bg-slate-800" data-kind=r.kind.key()>{r.kind.label()}</span></td>
                                <td class="px-3 py-1.5 font-mono text-xs break-anywhere">{r.artifact_type}</td>
                                <td class="px-3 py-1.5 font-mono text-xs"><a href=r.href class="text-sky-700 hover:underline dark:text-sky-400">{short_digest(&r.digest)}</a></td>
                                <td class="px-3 py-1.5 text-xs whitespace-nowrap">{r.created.map(|c| relative_time(&c, now))}</td>
                                <td class="px-3 py-1.5 text-xs text-slate-600 dark:text-slate-400">{r.source}</td>
                                {checked}
                            </tr>
                        }
                    }).collect_view(), None)}
    }
    .into_any()
}

fn panel_view(p: Panel) -> impl IntoView {
    let frame = "mb-4 rounded-lg border border-sky-200 bg-sky-50/50 p-4 dark:border-sky-900 dark:bg-sky-950/40";
    let body = match p {
        Panel::Helm { name, version, app_version, description, chart_type, values_yaml, values_truncated } => view! {
            <h2 class="text-lg font-semibold">"Helm chart " <span class="font-mono">{name}</span> " " <span class="font-mono">{version}</span></h2>
            <p class="text-sm text-slate-700 dark:text-slate-300">
                {app_version.map(|v| format!("app version {v}"))}
                {chart_type.map(|t| format!(" · {t}"))}
            </p>
            {description.map(|d| view! { <p class="mt-1 text-sm">{d}</p> })}
            {values_yaml.map(|v| view! {
                <h3 class="mt-3 mb-1 font-semibold">"values.yaml"</h3>
                <pre class="max-h-96 overflow-auto rounded-sm bg-white p-2 text-xs dark:bg-slate-900" data-testid="values-yaml">{v}</pre>
                {values_truncated.then(|| view! { <p class="text-xs text-amber-700">"Cut: values.yaml is longer than shown."</p> })}
            })}
        }
        .into_any(),
        Panel::Sbom { format, spec_version, name, package_count, packages } => view! {
            <h2 class="text-lg font-semibold">"SBOM · " {format} {spec_version.map(|v| format!(" ({v})"))}</h2>
            <p class="text-sm" data-testid="sbom-count">{name.map(|n| format!("{n} · "))}{format!("{package_count} packages")}</p>
            <ul class="mt-2 grid gap-x-6 text-sm sm:grid-cols-2 lg:grid-cols-3" data-testid="sbom-packages">
                {packages.into_iter().map(|(n, v)| view! { <li class="font-mono text-xs">{n} " " <span class="text-slate-500">{v}</span></li> }).collect_view()}
            </ul>
        }
        .into_any(),
        Panel::Signature { format, signed_digest, payload, annotations } => view! {
            <h2 class="text-lg font-semibold">"Signature · " {format}</h2>
            {signed_digest.map(|d| view! { <p class="text-sm">"Signs " <span class="font-mono" data-testid="signed-digest">{d}</span></p> })}
            {(!annotations.is_empty()).then(|| view! { <div class="mt-2">{pairs_table(annotations, "signature-annotations")}</div> })}
            {payload.map(|p| view! { <h3 class="mt-3 mb-1 font-semibold">"Payload"</h3> {json_view(p, "signature-payload")} })}
        }
        .into_any(),
        Panel::Attestation { predicate_type, statement_type, subjects, predicate } => view! {
            <h2 class="text-lg font-semibold">"Attestation"</h2>
            <p class="text-sm">"Predicate type " <span class="font-mono" data-testid="predicate-type">{predicate_type}</span></p>
            {statement_type.map(|t| view! { <p class="text-xs text-slate-600 dark:text-slate-400">{t}</p> })}
            <ul class="mt-1 text-sm">
                {subjects.into_iter().map(|(n, d)| view! { <li>"Subject " <span class="font-mono">{n}</span> " " <span class="font-mono text-xs">{d}</span></li> }).collect_view()}
            </ul>
            {predicate.map(|p| view! { <h3 class="mt-3 mb-1 font-semibold">"Predicate"</h3> {json_view(p, "predicate")} })}
        }
        .into_any(),
        Panel::Unavailable { title, reason } => view! {
            <h2 class="text-lg font-semibold">{title}</h2>
            <p class="text-sm text-amber-800 dark:text-amber-300">{reason}</p>
        }
        .into_any(),
    };
    view! { <section class=frame data-testid="panel">{body}</section> }
}
