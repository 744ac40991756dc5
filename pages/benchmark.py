"""Benchmark: the search self-test or an uploaded query JSONL → recall table and per-style chart;
and every build run with its metrics."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import core
from core import views
from pages import _common as ui
from pages._common import K

ui.route()
library = ui.lib()
ui.header("Benchmark", "How well search finds the right ad: recall@k and MRR, overall and per query style.")
stats = ui.q(views.library_stats)


def run(**kw) -> None:
    bar = st.progress(0.0, text="Loading the search models…")

    def progress(stage: str, done: int, total: int) -> None:
        bar.progress(done / total if total else 0.0, text=f"Query {done + 1:,} of {total:,}")

    try:
        res = core.run_benchmark(library, progress=progress, **kw)
    except Exception as e:  # noqa: BLE001
        bar.empty()
        ui.friendly(e, "run the benchmark")
        return
    bar.empty()
    if not res.get("n"):
        st.warning("No query could be matched to an ad of this library: check that the targets name files of this library "
                   "(paths relative to the root folder).", icon=":material/warning:")
    st.session_state[K.BENCH] = res


FEATURE_WORDS = {"dense_cos": "meaning match (MiniLM)", "multi_cos": "meaning match (multilingual)",
                 "idf_cover": "share of the request's telling words in the ad", "info": "how telling the matched words are",
                 "gram_cover": "letter runs matched (glued text)", "margin": "lead over the second hit",
                 "ambiguity": "how many ads hold the same words",
                 "agree_top3": "search channels ranking it in their top 3",
                 "multi_head_z": "lead over the best matches (multilingual)"}


def verdict_panel() -> None:
    """What decides 'reuse' or 'generate' on the Search page: this library's calibrated model or the built-in one,
    what it was fitted on and how often it is right; its weights behind Evidence."""
    try:
        model = ui.q(core.verdict_model)
    except Exception as e:  # noqa: BLE001
        ui.friendly(e, "read the search verdict")
        return
    st.subheader("Reuse or generate")
    own = model.get("key") is not None
    st.caption(("This library's own calibration decides" if own else "The built-in model decides (this library has no "
                "calibration of its own)") + " whether a search's top hit is the ad asked for (reuse) or nothing matches "
               f"(generate): it weighs what the search knows about the top hit and says reuse from a confidence of "
               f"{float(model['threshold']):.0%}.")
    acc = model.get("train_balanced_accuracy")
    st.markdown(f"**Fitted on:** {ui.safe_md(model.get('source') or '—')}"
                + (f" · balanced accuracy on them {float(acc):.2f}" if acc is not None else ""))
    with st.expander("Evidence"):
        weights = pd.DataFrame({"evidence": [FEATURE_WORDS.get(f, f) for f in model["features"]], "feature": model["features"],
                                "weight": model["coef"], "mean": model["mean"], "scale": model["scale"]})
        st.dataframe(weights, hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("weight", "mean", "scale")})
        st.caption(f"{ui.safe_md(model['method'])}; intercept {float(model['intercept']):.3f}; run "
                   f"{ui.code_span(model['key'] or 'default (built in)')}. A weight is per standard deviation of its "
                   "feature: positive pushes towards reuse. Recalibrate with `python -m core bench --calibrate-verdict`.")


if stats["ads"] < 2:
    st.info("This library needs ads before search can be measured. Upload a zip on the **Library** page.", icon=":material/upload:")
else:
    self_tab, file_tab = st.tabs(["Self-test", "Your queries (JSONL)"])
    with self_tab:
        st.caption("Makes queries from the library's own ads (a few words of their text, misspelled words, what they show, "
                   "their metadata) and checks that search brings each ad back. It measures the reuse-or-generate verdict; it never "
                   "changes it.")
        n = st.slider("Ads to query", min_value=5, max_value=200, value=50, step=5, key=K.BENCH_N,
                      help="Each ad gets one query per style (a few words of its text, misspelled, what it shows, its metadata).")
        if st.button("Run self-test", type="primary", key=K.BENCH_SELF, icon=":material/play_arrow:"):
            run(n=int(n))
    with file_tab:
        st.caption('One JSON object per line: `{"query": "…", "targets": ["folder/file.jpg"], "style": "visual"}`. '
                   "Targets are paths of this library's ads (relative to the root folder below).")
        up = st.file_uploader("Query file", type=["jsonl", "json", "txt"], key=K.BENCH_FILE)
        root = st.text_input("Root folder of the targets (optional)", key=K.BENCH_ROOT,
                             help="Where the target files lie on this machine, to match them by content too.")
        if st.button("Run these queries", type="primary", key=K.BENCH_RUN_FILE, disabled=up is None, icon=":material/play_arrow:"):
            data = bytes(up.getbuffer())
            count, problem = views.read_jsonl_queries(data)
            if problem:
                st.error(ui.message_md(problem), icon=":material/error:")
            elif root and not Path(root).is_dir():
                st.error(f"The root folder '{ui.safe_md(root)}' does not exist on this machine.", icon=":material/folder_off:")
            else:
                path = views.save_upload(library, up.name, data)
                run(queries=str(path), root=root or None)

res = st.session_state.get(K.BENCH)
if res and res.get("n"):
    st.subheader("Results")
    st.caption(f"{ui.safe_md(res['source'])} · {res['n']} queries")
    m = st.columns(6)
    for col, key in zip(m, ["recall@1", "recall@5", "recall@10", "mrr", "node_recall@5"]):
        v = res.get(key)
        col.metric(key.replace("_", " "), "—" if v is None else f"{v:.2f}")
    lat = res.get("latency_ms") or {}
    m[5].metric("latency p50", f"{lat['p50']:.0f} ms" if lat.get("p50") is not None else "—",
                help=f"p95 {lat.get('p95') or 0:.0f} ms")
    rows = [{"style": "all", **{k: res.get(k) for k in ("n", "recall@1", "recall@5", "recall@10", "mrr", "node_recall@5")}}]
    rows += [{"style": s, **r} for s, r in sorted(res.get("by_style", {}).items())]
    table = pd.DataFrame(rows)
    st.dataframe(table, hide_index=True, width="stretch")
    styles = table[table["style"] != "all"]
    if len(styles):
        fig = go.Figure([go.Bar(name=k, x=ui.plot_text(styles["style"].astype(str)), y=styles[k])
                         for k in ("recall@1", "recall@5", "recall@10", "mrr")])
        fig.update_layout(barmode="group", height=360, yaxis={"range": [0, 1], "title": "share of queries"},
                          margin={"t": 10, "l": 10, "r": 10, "b": 10})
        st.plotly_chart(fig, width="stretch", key=K.BENCH_CHART)
    v = res.get("verdict") or {}
    if v.get("balanced_accuracy") is not None:
        st.caption(f"Reuse or generate, on these queries: right on {v['reuse_right']:.0%} of the {v['reuse_queries']:,} that should "
                   f"find their ad and {v['generate_right']:.0%} of the {v['generate_queries']:,} that should not "
                   f"(balanced accuracy {v['balanced_accuracy']:.2f}).")
    if res.get("queries"):
        with st.expander("Every query"):
            st.dataframe(pd.DataFrame(res["queries"]), hide_index=True, width="stretch")

verdict_panel()

st.subheader("Build runs")
runs = ui.q(views.build_runs)
if runs is None or runs.empty:
    st.caption("No taxonomy has been built in this library yet.")
else:
    st.dataframe(runs, hide_index=True, width="stretch")
