"""The attention explorer: a Gradio page over saved models (``hf-onelayer explore``).

Type a sentence, press Translate: the page shows the translation, each attention map as a heatmap (one
head or the mean of heads, per layer), the argmax alignment as word pairs, and Problem 1 live (scale one
source key; switch heads off). Every number comes from ``hf_onelayer.analysis.views``. The function behind
``api_name="translate"`` gives the first loaded encoder–decoder's translation, for ``gradio_client``.
"""

import functools
import html
import os
from concurrent.futures import ThreadPoolExecutor

import torch

from .analysis.views import (
    MAP_NAMES, ablation_effect, key_scaling_effect, sentence_attention, source_heads, word_alignment,
    word_spans,
)
from .errors import UserError, one_line
from .hub.model_card import LANGUAGE_NAMES
from .kinds import kind_of
from .translation import load, translate

MEAN = "mean of heads"
EMPTY = "Type a sentence and press Translate."


def heatmap(weights: torch.Tensor, rows: list[str], cols: list[str], title: str):
    """A (rows, cols) attention map as a PIL image: keys along the x-axis, one row per query."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    left, bottom = 0.4 + 0.07 * max(map(len, rows)), 0.6 + 0.055 * max(map(len, cols))  # inches for the labels
    width, height = min(left + 1.6 + 0.3 * len(cols), 24), min(bottom + 0.5 + 0.25 * len(rows), 24)
    fig = Figure(figsize=(width, height), dpi=90)  # no pyplot: safe in Gradio's threads
    fig.subplots_adjust(left=left / width, right=1 - 1.2 / width, bottom=bottom / height, top=1 - 0.35 / height)
    ax = fig.add_subplot()
    image = ax.imshow(weights.float().numpy(), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=70, fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set(xlabel="key", ylabel="query", title=title)
    fig.colorbar(image, ax=ax, fraction=0.6 / width, pad=0.2 / width)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB")


class Explorer:
    """The loaded models and what the page computes with them."""

    def __init__(self, model_dirs: list[str], num_beams: int = 5):
        if not model_dirs:
            raise UserError("no --model given, and no released models beside the package (only a source checkout has "
                            "release/); pass --model with saved model folders or Hub ids")
        self.models, self.num_beams = {}, num_beams
        # All model work on one thread: requests never see each other's hooks, and torch keeps one OpenMP team
        # (a call from each of Gradio's worker threads would start a team per thread and oversubscribe the cores).
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="models")
        for path in model_dirs:
            self.add(path)
        self.view = functools.lru_cache(maxsize=32)(self._view)

    def add(self, path: str) -> str:
        """Load a saved folder or Hub id (``UserError`` when it is not one of our models); returns its name."""
        model, tokenizer = load(path)
        relative = os.path.relpath(path) if os.path.exists(path) else path
        name = path if relative.startswith("..") else relative  # release/seq2seq rather than /home/.../release/seq2seq
        self.models[name] = (model, tokenizer)
        return name

    def run(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` on the model thread."""
        return self.worker.submit(fn, *args, **kwargs).result()

    def kind(self, name: str) -> str:
        return kind_of(self.models[name][0]).label

    def source_language(self, name: str) -> str:
        code = getattr(self.models[name][1], "source_lang", "de")
        return LANGUAGE_NAMES.get(code, code)

    def default_translator(self) -> str:
        """The first loaded encoder–decoder, else the first model."""
        return next((n for n in self.models if self.models[n][0].config.is_encoder_decoder), next(iter(self.models)))

    def translate(self, sentence: str) -> str:
        """The default translator's translation of ``sentence`` (beam ``num_beams``); blank gives ""."""
        model, tokenizer = self.models[self.default_translator()]
        return self.run(translate, model, tokenizer, sentence or "", num_beams=self.num_beams)

    def _view(self, name: str, sentence: str, num_beams: int) -> dict:
        model, tokenizer = self.models[name]
        return self.run(sentence_attention, model, tokenizer, sentence, num_beams)

    def cut_message(self, name: str, sentence: str, seen: dict) -> str:
        """What was cut from a source longer than the model's positions, or ""."""
        limit = self.models[name][0].config.max_position_embeddings
        if seen["source_length"] <= limit:
            return ""
        kept = [word for word, _ in word_spans(seen["source"]) if not (word.startswith("<") and word.endswith(">"))]
        return (f"The sentence has {len(sentence.split()):,} words ({seen['source_length']:,} tokens); {name} reads at "
                f"most {limit} tokens, so it read {len(kept)} words, up to “{' '.join(kept[-4:])}”, and the rest "
                f"({seen['source_length'] - limit:,} tokens) was cut.")

    def others(self, name: str, sentence: str) -> tuple[str, str]:
        """(label, text): the course model's output beside an encoder–decoder, or an encoder–decoder's beside the
        course model; ("", "") when only one kind is loaded."""
        other = next((n for n in self.models if self.kind(n) != self.kind(name)), None)
        if other is None:
            return "", ""
        model, tokenizer = self.models[other]
        text = self.run(translate, model, tokenizer, sentence, num_beams=self.num_beams)
        label = f"{other} ({'token for token' if self.kind(other) == 'course model' else f'beam {self.num_beams}'})"
        return label, text

    def picture(self, name: str, seen: dict, map_name: str, head: str, layer: int):
        """The heatmap image and the word alignment (Markdown) of one map, head (or the mean) and layer."""
        weights, rows, cols = seen["maps"][map_name]
        layer = min(max(int(layer or 0), 0), weights.shape[0] - 1)
        chosen = weights[layer].mean(0) if head in (None, MEAN) else weights[layer, int(head.split()[-1])]
        title = f"{MAP_NAMES[map_name]}, layer {layer}, {head or MEAN}"
        lines = [f"| {html.escape(rows_word)} | {html.escape(cols_word)} | {w:.2f} |" for rows_word, cols_word, w in
                 word_alignment(chosen, rows, cols)]
        table = "**argmax alignment** (query word → key word, weight)\n\n| query | key | weight |\n| --- | --- | --- |\n"
        return heatmap(chosen, rows, cols, title), table + "\n".join(lines)

    def key_shift(self, name: str, sentence: str, num_beams: int, position: int, scale: float) -> tuple[str, str]:
        """Markdown of each source-attention head's KL shift, and the translation, with one key scaled."""
        seen = self.view(name, sentence, num_beams)
        model, tokenizer = self.models[name]
        out = self.run(key_scaling_effect, model, tokenizer, sentence, seen["output_ids"], position, scale, num_beams)
        key = html.escape(seen["source"][position])
        lines = [f"| {layer} | {head} | {out['kl'][layer, head]:.4f} |" for layer, head in source_heads(model)]
        text = (f"key **{key}** (position {position}) × {scale:g}: KL(before ‖ after) of each head's attention, "
                f"mean over query rows, mean over heads **{out['kl'].mean():.4f}** nats\n\n"
                "| layer | head | KL [nats] |\n| --- | --- | --- |\n" + "\n".join(lines))
        return text, out["translation"]

    def ablate(self, name: str, sentence: str, num_beams: int, heads: list[tuple[int, int]]) -> tuple[str, str]:
        """The translation with ``heads`` switched off, and Markdown of the change in log p of the old output."""
        seen = self.view(name, sentence, num_beams)
        model, tokenizer = self.models[name]
        out = self.run(ablation_effect, model, tokenizer, sentence, seen["output_ids"], heads, num_beams)
        change = out["ablated_log_prob"] - out["log_prob"]
        text = (f"log p(earlier output): {out['log_prob']:.3f} → {out['ablated_log_prob']:.3f} "
                f"(change **{change:+.3f}** nats) with {len(heads)} head(s) off")
        return out["translation"], text


def head_name(layer: int, head: int) -> str:
    return f"layer {layer} head {head}"


def build_app(explorer: Explorer):
    """The Gradio Blocks of the explorer."""
    import gradio as gr

    names = list(explorer.models)
    first = explorer.default_translator()
    beams = max(1, explorer.num_beams)
    with gr.Blocks(title="hf-onelayer attention explorer", analytics_enabled=False) as app:
        gr.Markdown("# hf-onelayer attention explorer\nType a sentence and press **Translate**. The heatmap shows "
                    "where each query looked; Problem 1 below scales one source key or switches heads off in the "
                    "attention that reads the source (cross-attention, or the course model's self-attention).")
        state = gr.State(None)  # (model name, sentence, beams) of the shown translation
        with gr.Row():
            sentence = gr.Textbox(label=f"{explorer.source_language(first)} sentence", elem_id="sentence", scale=4,
                                  placeholder="Zwei Hunde spielen im Schnee.")
            model = gr.Dropdown(names, value=first, label="model", elem_id="model", scale=2)
            num_beams = gr.Slider(1, 8, value=beams, step=1, label="beams", elem_id="beams", scale=1)
            go = gr.Button("Translate", variant="primary", elem_id="translate", scale=1)
        message = gr.Markdown("", elem_id="message")
        with gr.Row():
            translation = gr.Textbox(label="translation", elem_id="translation", interactive=False)
            other = gr.Textbox(label="other model", elem_id="other", interactive=False, visible=False)
        with gr.Row():
            map_name = gr.Radio([], label="attention", elem_id="map")
            head = gr.Dropdown([MEAN], value=MEAN, label="head", elem_id="head")
            layer = gr.Dropdown([0], value=0, label="layer", elem_id="layer", visible=False)
        with gr.Row():
            picture = gr.Image(label="attention weights", elem_id="heatmap", type="pil", format="png",
                               interactive=False, scale=3)
            alignment = gr.Markdown(elem_id="alignment")
        gr.Markdown("## Problem 1: a key of uncertain norm\nMultiply one source token's key by a factor: how far "
                    "does each head's attention move (KL), and what does the model write then?")
        with gr.Row():
            key = gr.Dropdown([], label="source key", elem_id="key", type="index")
            scale = gr.Slider(0, 8, value=1, step=0.25, label="key scale", elem_id="scale")
        with gr.Row():
            kl = gr.Markdown(elem_id="kl")
            scaled = gr.Textbox(label="translation with the scaled key", elem_id="scaled", interactive=False)
        gr.Markdown("## Problem 1: remove heads")
        ablate = gr.CheckboxGroup([], label="switch off", elem_id="ablate")
        with gr.Row():
            ablated = gr.Textbox(label="translation without them", elem_id="ablated", interactive=False)
            logp = gr.Markdown(elem_id="logp")
        with gr.Accordion("Load another model", open=False, elem_id="loader"):
            with gr.Row():
                path = gr.Textbox(label="saved folder or Hub id", elem_id="path", scale=4)
                add = gr.Button("Load", elem_id="load", scale=1)

        views = [state, message, translation, other, map_name, head, layer, picture, alignment, key, scale, kl, scaled,
                 ablate, ablated, logp]

        def cleared(text):
            return [None, text, "", gr.update(visible=False), gr.update(choices=[], value=None), gr.update(),
                    gr.update(), None, "", gr.update(choices=[], value=None), gr.update(), "", "",
                    gr.update(choices=[], value=[]),
                    "", ""]

        def press(text, name, width):
            if not text or not text.strip():
                return cleared(EMPTY)
            width = int(width)
            seen = explorer.view(name, text, width)
            model_ = explorer.models[name][0]
            label, other_text = explorer.others(name, text)
            first_map = next(iter(seen["maps"]))
            layers = seen["maps"][first_map][0].shape[0]
            image, table = explorer.picture(name, seen, first_map, MEAN, 0)
            heads = [MEAN] + [f"head {h}" for h in range(model_.config.num_attention_heads)]
            keys = [f"{i}: {token}" for i, token in enumerate(seen["source"])]
            position = min(1, len(keys) - 1)  # the first word's key, at scale 1 (the slider is reset)
            shift, shifted = explorer.key_shift(name, text, width, position, 1.0)
            return [(name, text, width), explorer.cut_message(name, text, seen),
                    gr.update(value=seen["translation"], label=f"translation ({name}, {explorer.kind(name)})"),
                    gr.update(value=other_text, label=label, visible=bool(label)),
                    gr.update(choices=[(MAP_NAMES[m], m) for m in seen["maps"]], value=first_map),
                    gr.update(choices=heads, value=MEAN), gr.update(choices=list(range(layers)), value=0,
                                                                    visible=layers > 1),
                    image, table, gr.update(choices=keys, value=keys[position]), 1.0,
                    shift, shifted, gr.update(choices=[head_name(*h) for h in source_heads(model_)], value=[]),
                    "", ""]

        def redraw(shown, name_of_map, head_, layer_):
            if shown is None or name_of_map is None:
                return gr.update(), gr.update()
            seen = explorer.view(*shown)
            return explorer.picture(shown[0], seen, name_of_map, head_, layer_)

        def move(shown, position, factor):
            if shown is None or position is None:
                return "", ""
            return explorer.key_shift(*shown, int(position), float(factor))

        def switch_off(shown, chosen):
            if shown is None:
                return "", ""
            heads = [tuple(int(x) for x in c.split()[1::2]) for c in chosen or []]
            return explorer.ablate(*shown, heads)

        def load_model(where):
            where = (where or "").strip()
            if not where:
                return "Give a saved model folder or a Hub id.", gr.update()
            try:
                name = explorer.add(where)
            except UserError as error:
                return f"Cannot load {where}: {one_line(error).removeprefix(f'--model {where}: ')}", gr.update()
            return f"Loaded {name} ({explorer.kind(name)}).", gr.update(choices=list(explorer.models), value=name)

        def relabel(name):
            return gr.update(label=f"{explorer.source_language(name)} sentence")

        def guarded(fn, outputs_on_error):
            """Bad input becomes the page's message, not a traceback."""
            def run(*args):
                try:
                    return fn(*args)
                except UserError as error:
                    return outputs_on_error(one_line(error))
            return run

        hidden = {"api_visibility": "undocumented"}
        for trigger in (go.click, sentence.submit):
            # a small timer on the translation alone: a full overlay on every output costs the browser CPU time
            trigger(guarded(press, cleared), [sentence, model, num_beams], views, show_progress="minimal",
                    show_progress_on=translation, **hidden)
        for control in (map_name, head, layer):
            control.change(redraw, [state, map_name, head, layer], [picture, alignment], **hidden)
        scale.change(move, [state, key, scale], [kl, scaled], trigger_mode="always_last", **hidden)
        key.change(move, [state, key, scale], [kl, scaled], **hidden)
        ablate.change(switch_off, [state, ablate], [ablated, logp], trigger_mode="always_last", **hidden)
        add.click(load_model, [path], [message, model], **hidden)
        model.change(relabel, [model], [sentence], **hidden)

        def translate_api(sentence: str) -> str:
            """The first loaded encoder–decoder's translation (beam as set by --num_beams); blank gives ""."""
            return explorer.translate(sentence)

        gr.api(translate_api, api_name="translate")
    return app
