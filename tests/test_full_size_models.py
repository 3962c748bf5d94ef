"""The full-size random-weight architectures are the documented ones, so benchmarks/model_speed.py
cannot silently time another model: parameter counts, row width, cells. Meta device only (shapes,
no memory, no compute)."""

from __future__ import annotations

import pytest
from PIL import Image

from docretriever.embedding.families import COLQWEN2, COLQWEN3_5
from docretriever.testing.full_size_model import (
    FULL_SIZE_MODELS,
    build_full_size_model,
    full_size_embedder,
    full_size_model,
)

# (name, parameters, rows, cell px, family). ColQwen2: vidore/colqwen2-v1.0 (Qwen2-VL-2B). Flash:
# vultr/VultronRetrieverFlash-Qwen3.5-0.8B on Qwen/Qwen3.5-0.8B's configuration, dim 320 (MTEB's
# ModelMeta says 853,341,916; the architecture counts 853,313,920).
EXPECTED = [
    ("colqwen2", 2_209_182_336, 128, 28, COLQWEN2),
    ("colqwen3.5-flash", 853_313_920, 320, 32, COLQWEN3_5),
]


@pytest.mark.parametrize(("name", "parameters", "rows", "cell_px", "family"), EXPECTED)
def test_a_full_size_build_is_the_documented_architecture(
    name: str, parameters: int, rows: int, cell_px: int, family: object
) -> None:
    model, processor = build_full_size_model("meta", name=name)
    spec = full_size_model(name)
    assert sum(p.numel() for p in model.parameters()) == spec.parameters == parameters
    assert model.dim == spec.dim == rows
    assert model.custom_text_proj.out_features == rows
    assert model.patch_size * model.spatial_merge_size == cell_px
    image_processor = processor.image_processor
    assert image_processor.patch_size * image_processor.merge_size == cell_px
    assert model.config.image_token_id == processor.image_token_id
    assert spec.family is family and family.geometry.cell_px == cell_px

    embedder = full_size_embedder(model, processor, name, "meta", 768)
    assert embedder.geometry.cell_px == cell_px
    assert embedder.identity.dim == rows and embedder.identity.family == family.name
    # A letter page at the embedder's render size reaches the model unresized: one image-pad token
    # per cell of the geometry, within the budget.
    width, height = embedder.render_size(612, 792)
    assert width % cell_px == 0 and height % cell_px == 0
    cells = (width // cell_px) * (height // cell_px)
    assert cells <= 768
    batch = embedder.prepare_pages([Image.new("RGB", (width, height), "white")]).batches[0]
    _, grid_h, grid_w = (int(v) for v in batch["image_grid_thw"][0])
    assert (grid_w // 2, grid_h // 2) == (width // cell_px, height // cell_px)
    assert int((batch["input_ids"] == processor.image_token_id).sum()) == cells


def test_the_flash_build_has_qwen35_08bs_configuration() -> None:
    model, processor = build_full_size_model("meta", name="colqwen3.5-flash")
    text, vision = model.config.text_config, model.config.vision_config
    assert text.layer_types == (["linear_attention"] * 3 + ["full_attention"]) * 6
    assert (text.hidden_size, text.intermediate_size, text.num_hidden_layers) == (1024, 3584, 24)
    assert (text.num_attention_heads, text.num_key_value_heads, text.head_dim) == (8, 2, 256)
    assert (text.linear_num_key_heads, text.linear_num_value_heads) == (16, 16)
    assert (text.linear_key_head_dim, text.linear_value_head_dim) == (128, 128)
    assert text.linear_conv_kernel_dim == 4
    assert text.rope_parameters["mrope_section"] == [11, 11, 10]
    assert text.rope_parameters["partial_rotary_factor"] == 0.25
    assert text.vocab_size == 248_320 and model.config.tie_word_embeddings
    assert (vision.depth, vision.hidden_size, vision.out_hidden_size) == (12, 768, 1024)
    assert (vision.patch_size, vision.spatial_merge_size) == (16, 2)
    assert sum(p.numel() for n, p in model.named_parameters() if n.startswith("visual.")) == 100_592_896
    assert model.language_model.embed_tokens.weight.numel() == 254_279_680  # MTEB's n_embedding_parameters
    assert list(processor.image_processor.image_mean) == [0.5, 0.5, 0.5]
    assert list(processor.image_processor.image_std) == [0.5, 0.5, 0.5]
    # The real page prompt, token for token in its special tokens.
    ids = processor.tokenizer(processor.visual_prompt_prefix)["input_ids"]
    tokens = processor.tokenizer.convert_ids_to_tokens(ids)
    assert tokens[:1] == ["<|im_start|>"] and tokens[-2:] == ["<|im_end|>", "<|endoftext|>"]
    assert tokens[3:6] == ["<|vision_start|>", "<|image_pad|>", "<|vision_end|>"]


def test_an_unknown_full_size_model_is_refused() -> None:
    with pytest.raises(ValueError, match=r"colqwen3\.5-flash"):
        full_size_model("colqwen9")
    assert set(FULL_SIZE_MODELS) == {"colqwen2", "colqwen3.5-flash"}
