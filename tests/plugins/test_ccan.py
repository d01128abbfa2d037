"""The ccan plugin: CCA (Eq. 1-3), semi-hard triplet (Eq. 5), stripes, network variants, recipe, CLI."""
import pytest
import torch

from reid_bench import ProtocolSpec
from reid_bench.plugin_manager import load_plugins
from reid_bench.plugins.ccan.attention import CrossCorrelatedAttention
from reid_bench.plugins.ccan.losses import SemiHardTripletTerm, mine_semi_hard
from reid_bench.plugins.ccan.method import METHOD
from reid_bench.plugins.ccan.model import EmbeddingHead, build_ccan
from reid_bench.plugins.ccan.stripes import horizontal_stripes, stripe_bounds
from paper_numbers import reported_for

SMALL = (64, 32)


@pytest.fixture(scope="module")
def plugins():
    return load_plugins()


def protocol(name, task="reid"):
    return ProtocolSpec(name=name, task=task, title=name, split="", load=None)


# -- Cross-Correlated Attention (Sec. 3.1) -----------------------------------------------------------
def loop_cca(module, q, q_prime):
    """Eq. 1-3 for one sample ``(C, M, N)``, position by position, as written in the paper."""
    weight = {name: getattr(module, name).weight[:, :, 0, 0] for name in "gfhw"}
    relu = torch.relu
    _, rows, cols = q.shape
    positions = [(m, n) for m in range(rows) for n in range(cols)]
    size = len(positions)
    g = [relu(weight["g"] @ q[:, m, n]) for m, n in positions]
    f = [relu(weight["f"] @ q_prime[:, m, n]) for m, n in positions]
    h = [relu(weight["h"] @ q[:, m, n]) for m, n in positions]
    a_prime = [[torch.dot(g[i], f[j]) for j in range(size)] for i in range(size)]
    w_alpha = module.alpha.weight  # (MN, 2MN): output k from input column j
    z = torch.empty_like(q)
    for i, (m, n) in enumerate(positions):
        row = [a_prime[i][j] for j in range(size)] + [a_prime[j][i] for j in range(size)]  # [A', A'^T]
        a_row = [relu(sum(row[j] * w_alpha[k, j] for j in range(2 * size))) for k in range(size)]  # Eq. 1
        y = sum(a_row[k] * h[k] for k in range(size)) / size  # Eq. 2
        z[:, m, n] = relu(weight["w"] @ y) + q[:, m, n]  # Eq. 3
    return z


def test_cca_matches_a_loop_evaluation_of_eq_1_to_3():
    torch.manual_seed(0)
    module = CrossCorrelatedAttention(channels=16, positions=6)
    q, q_prime = torch.randn(2, 16, 3, 2), torch.randn(2, 16, 3, 2)
    with torch.no_grad():
        z, attention = module(q, q_prime)
        expected = torch.stack([loop_cca(module, q[b], q_prime[b]) for b in range(2)])
    assert z.shape == q.shape and attention.shape == (2, 6, 6)
    torch.testing.assert_close(z, expected, rtol=1e-5, atol=1e-5)


def test_ssa_is_cca_with_q_equal_to_q_prime():
    torch.manual_seed(1)
    module = CrossCorrelatedAttention(channels=16, positions=12)
    q = torch.randn(3, 16, 4, 3)
    z_ssa, a_ssa = module(q)
    z_cca, a_cca = module(q, q.clone())
    assert z_ssa.shape == q.shape
    torch.testing.assert_close(z_ssa, z_cca)
    torch.testing.assert_close(a_ssa, a_cca)


def test_zero_w_w_leaves_the_residual_path():
    torch.manual_seed(2)
    module = CrossCorrelatedAttention(channels=16, positions=6)
    torch.nn.init.zeros_(module.w.weight)
    q, q_prime = torch.randn(2, 16, 2, 3), torch.randn(2, 16, 2, 3)
    z, _ = module(q, q_prime)
    torch.testing.assert_close(z, q)


def test_cca_refuses_a_map_of_another_size():
    module = CrossCorrelatedAttention(channels=16, positions=6)
    with pytest.raises(ValueError, match="6 positions"):
        module(torch.randn(1, 16, 4, 4))


# -- semi-hard triplet loss (Sec. 3.3, Eq. 5) --------------------------------------------------------
# 1-d embeddings; identities 0, 0, 1, 1, 2. Squared distances:
#   d01 = 1, d02 = 1.44, d03 = 9, d04 = 16, d12 = 0.04, d13 = 4, d14 = 9, d23 = 3.24, d24 = 7.84, d34 = 1
HAND_EMBEDDINGS = torch.tensor([[0.0], [1.0], [1.2], [3.0], [4.0]])
HAND_TARGETS = torch.tensor([0, 0, 1, 1, 2])


def test_semi_hard_mining_picks_the_expected_negatives():
    dist = (HAND_EMBEDDINGS - HAND_EMBEDDINGS.t()) ** 2
    indices, mined = mine_semi_hard(dist, HAND_TARGETS, negatives=2)
    assert torch.nonzero(mined.any(dim=2)).tolist() == [[0, 1], [1, 0], [2, 3], [3, 2]]
    assert int(mined.sum()) == 8  # r = 2 negatives for each of the 4 anchor-positive pairs
    assert indices[0, 1].tolist() == [2, 3]  # d_ap = 1: semi-hard 2 (1.44), 3 (9), 4 (16)
    assert indices[1, 0].tolist() == [3, 4]  # d_ap = 1: 2 (0.04) is closer than the positive
    assert indices[2, 3].tolist() == [4, 1]  # d_ap = 3.24: only 4 (7.84) is semi-hard, filled with 1 (0.04)
    assert indices[3, 2].tolist() == [1, 0]  # d_ap = 3.24: semi-hard 1 (4), 0 (9); 4 (1) is closer


def test_semi_hard_triplet_loss_equals_the_hand_value():
    loss = SemiHardTripletTerm(output="embedding", margin=1.0, negatives=2, normalize=False)
    value = loss({"embedding": HAND_EMBEDDINGS}, HAND_TARGETS)
    # hinges [d_ap - d_an + 1]_+: (0,1): 0.56, 0; (1,0): 0, 0; (2,3): 0, 4.2; (3,2): 0.24, 0 -> 5.0 / 8
    assert value.item() == pytest.approx(0.625, abs=1e-5)


def test_semi_hard_triplet_loss_on_normalised_embeddings_equals_the_hand_value():
    # unit vectors a = (0.6, 0.8), b = (0, 1) (identity 0), c = (1, 0), d = (0, -1) (identity 1) of the
    # raw embeddings below; squared distances 2 - 2 cos: ab 0.4, ac 0.8, ad 3.6, bc 2, bd 4, cd 2
    embeddings = torch.tensor([[3.0, 4.0], [0.0, 2.0], [1.0, 0.0], [0.0, -5.0]])
    loss = SemiHardTripletTerm(output="e", margin=1.0, negatives=2)
    value = loss({"e": embeddings}, torch.tensor([0, 0, 1, 1]))
    # hinges: (a,b): c 0.6, d 0; (b,a): c 0, d 0; (c,d): no semi-hard negative, a 2.2, b 1.0; (d,c): 0, 0
    assert value.item() == pytest.approx(3.8 / 8, abs=1e-5)


def loop_semi_hard_loss(embeddings, targets, margin, negatives, normalize):
    if normalize:
        embeddings = embeddings / embeddings.norm(dim=1, keepdim=True)
    dist = torch.cdist(embeddings, embeddings) ** 2
    hinges = []
    for a in range(len(targets)):
        for p in range(len(targets)):
            if a == p or targets[a] != targets[p]:
                continue
            others = [n for n in range(len(targets)) if targets[n] != targets[a]]
            semi_hard = sorted((n for n in others if dist[a, n] > dist[a, p]), key=lambda n: dist[a, n])
            rest = sorted((n for n in others if dist[a, n] <= dist[a, p]), key=lambda n: dist[a, n])
            for n in (semi_hard + rest)[:negatives]:
                hinges.append(max(0.0, float(dist[a, p] - dist[a, n] + margin)))
    return sum(hinges) / len(hinges)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("negatives", [3, 10])
def test_semi_hard_triplet_loss_matches_a_loop_implementation(negatives, normalize):
    torch.manual_seed(3)
    embeddings = torch.randn(12, 5)
    targets = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 5])
    term = SemiHardTripletTerm(output="e", margin=1.5, negatives=negatives, normalize=normalize)
    expected = loop_semi_hard_loss(embeddings, targets, 1.5, negatives, normalize)
    assert term({"e": embeddings}, targets).item() == pytest.approx(expected, rel=1e-5)


def test_semi_hard_triplet_loss_without_positive_pairs_is_zero_with_a_graph():
    embeddings = torch.randn(4, 3, requires_grad=True)
    value = SemiHardTripletTerm(output="e")({"e": embeddings}, torch.arange(4))
    value.backward()
    assert value.item() == 0.0 and embeddings.grad is not None


# -- part stripes (Sec. 3.2) -------------------------------------------------------------------------
@pytest.mark.parametrize("height,parts", [(8, 4), (16, 4), (32, 4), (12, 3), (6, 2), (4, 4)])
def test_stripes_cover_the_map_exactly_once(height, parts):
    covered = [row for start, stop in stripe_bounds(height, parts) for row in range(start, stop)]
    assert sorted(covered) == list(range(height))
    assert len({stop - start for start, stop in stripe_bounds(height, parts)}) == 1


def test_stripes_are_resized_back_from_their_own_rows():
    rows = torch.arange(8.0).view(1, 1, 8, 1).expand(2, 3, 8, 4)  # value = row index
    stripes = horizontal_stripes(rows, 4)
    assert len(stripes) == 4
    for s, stripe in enumerate(stripes):
        assert stripe.shape == rows.shape
        assert stripe.min() >= 2 * s and stripe.max() <= 2 * s + 1


def test_stripes_of_a_map_lower_than_k_p_still_cover_it():
    assert stripe_bounds(2, 4) == [(0, 1), (0, 1), (1, 2), (1, 2)]
    assert [s.shape for s in horizontal_stripes(torch.randn(1, 2, 2, 2), 4)] == [(1, 2, 2, 2)] * 4


# -- the network (Sec. 3.2, 3.4) ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def full_model():
    torch.manual_seed(0)
    return build_ccan(4, input_size=SMALL, embedding_dim=32)


def batch(height=SMALL[0], width=SMALL[1]):
    return torch.randn(4, 3, height, width), torch.tensor([0, 0, 1, 1])


def variant_loss(plugins, variant, outputs, targets):
    terms = METHOD.loss_terms_for(variant, METHOD.paper_recipe(protocol("market1501")))
    return sum(t.weight * plugins.losses.get(t.loss)(**t.kwargs)(outputs, targets) for t in terms)


def test_full_model_gradients_reach_every_parameter_and_part_stream(full_model, plugins):
    full_model.train()
    full_model.zero_grad()
    images, targets = batch()
    outputs = full_model(images)
    assert {k: tuple(v.shape) for k, v in outputs.items()} == {
        "embedding_global": (4, 32), "logits_global": (4, 4), "embedding_local": (4, 32), "logits_local": (4, 4)}
    variant_loss(plugins, "ccan", outputs, targets).backward()
    assert [n for n, p in full_model.named_parameters() if p.grad is None] == []
    assert len(full_model.parts) == 4
    for part in full_model.parts:
        for block in (part.inception2, part.attention, part.inception3):
            assert sum(p.grad.abs().sum() for p in block.parameters()) > 0
    # Z1 is 8x4 at 64x32, Z2 4x2
    assert {k: tuple(v.shape) for k, v in full_model.attention_maps.items()} == {
        "ss1_global": (4, 8, 4), **{f"cc2_part{s}": (4, 4, 2) for s in range(1, 5)}}


def test_test_feature_is_the_two_normalised_embeddings(full_model):
    full_model.eval()
    images, _ = batch()
    with torch.no_grad():
        feature = full_model(images)
    assert feature.shape == (4, 64)
    torch.testing.assert_close(feature[:, :32].norm(dim=1), torch.ones(4))
    torch.testing.assert_close(feature[:, 32:].norm(dim=1), torch.ones(4))


def test_the_embedding_is_fc1_batch_normalised_and_fc2_reads_it():
    """``FC_1`` + BatchNorm: in training each embedding dimension is centred and scaled over the batch even
    for non-negative GAP-like inputs far from zero; ``FC_2``'s logits are computed from that embedding."""
    torch.manual_seed(0)
    head = EmbeddingHead(12, 6, 5).train()
    features = torch.rand(16, 12) + 3.0
    embedding, logits = head(features)
    linear = head.fc1(features)
    expected = (linear - linear.mean(dim=0)) / torch.sqrt(linear.var(dim=0, unbiased=False) + head.bn.eps)
    torch.testing.assert_close(embedding, expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(embedding.mean(dim=0), torch.zeros(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(logits, head.fc2(embedding))


def test_part_streams_start_as_unshared_copies_of_the_backbone_blocks():
    model = build_ccan(3, input_size=SMALL, parts=2, embedding_dim=8)
    for part in model.parts:
        for own, backbone in ((part.inception2, model.inception2), (part.inception3, model.inception3)):
            for (name, p), q in zip(own.named_parameters(), backbone.parameters()):
                assert torch.equal(p, q) and p.data_ptr() != q.data_ptr(), name
    first, second = (part.inception2[1].branch1.conv.weight for part in model.parts)
    assert torch.equal(first, second) and first.data_ptr() != second.data_ptr()


@pytest.mark.parametrize("input_size,ssa_positions,part_positions",
                         [((256, 128), 32 * 16, 16 * 8), ((128, 64), 16 * 8, 8 * 4)])
def test_w_alpha_is_sized_from_the_input_size(input_size, ssa_positions, part_positions):
    model = build_ccan(3, input_size=input_size, global_branch=False, parts=1, embedding_dim=8)
    assert (model.ss1.alpha.in_features, model.ss1.alpha.out_features) == (2 * ssa_positions, ssa_positions)
    alpha = model.parts[0].attention.alpha
    assert (alpha.in_features, alpha.out_features) == (2 * part_positions, part_positions)


@pytest.mark.parametrize("variant", sorted(METHOD.variants))
def test_every_variant_trains_and_gives_its_test_feature(variant, plugins):
    torch.manual_seed(0)
    kwargs = {**METHOD.model_kwargs_for(variant), "parts": 2, "embedding_dim": 16}
    model = build_ccan(4, input_size=SMALL, **kwargs)
    images, targets = batch()
    variant_loss(plugins, variant, model(images), targets).backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []
    model.eval()
    with torch.no_grad():
        feature = model(images)
    branches = int(kwargs["global_branch"]) + int(kwargs["local_branch"])
    assert feature.shape == (4, 16 * branches)
    torch.testing.assert_close(feature.norm(dim=1) ** 2, torch.full((4,), float(branches)))
    expected_maps = {"ss1_global"} if kwargs["self_attention"] else set()
    expected_maps |= {"cc2_part1", "cc2_part2"} if kwargs["cross_attention"] else set()
    assert set(model.attention_maps) == expected_maps


def test_classification_eval_returns_the_mean_of_the_branch_logits():
    model = build_ccan(100, task="classification", input_size=(32, 32), parts=2, embedding_dim=16).eval()
    logits = {}
    model.global_head.register_forward_hook(lambda m, i, o: logits.__setitem__("global", o[1]))
    model.local_head.register_forward_hook(lambda m, i, o: logits.__setitem__("local", o[1]))
    with torch.no_grad():
        output = model(torch.randn(2, 3, 32, 32))
    assert output.shape == (2, 100)
    torch.testing.assert_close(output, (logits["global"] + logits["local"]) / 2)


def test_invalid_switches_are_refused():
    with pytest.raises(ValueError, match="at least one"):
        build_ccan(3, input_size=SMALL, global_branch=False, local_branch=False)
    with pytest.raises(ValueError, match="local_branch"):
        build_ccan(3, input_size=SMALL, local_branch=False, cross_attention=True)


# -- method: recipe, variants, registration (Sec. 4.1, Tables 2-6) ---------------------------------
@pytest.mark.parametrize("name,lr,margin", [("market1501", 5e-4, 1.0), ("msmt17", 5e-4, 1.0),
                                            ("cuhk03-labeled", 1e-3, 1.5), ("cuhk03-detected", 1e-3, 1.5)])
def test_paper_recipe(name, lr, margin):
    recipe = METHOD.paper_recipe(protocol(name))
    (stage,) = recipe.stages
    assert (stage.epochs, stage.batch_size, stage.sampler.kwargs) == (200, 64, {"num_instances": 4})
    assert (stage.optimizer.name, stage.optimizer.lr, stage.optimizer.betas) == ("adam", lr, (0.9, 0.99))
    assert stage.optimizer.weight_decay == 1e-4
    assert [stage.schedule.factor(e) for e in (0, 149, 150, 199)] == pytest.approx([1, 1, 0.1, 0.1])
    assert recipe.input_size == (256, 128)
    assert {(a.name, a.start_epoch) for a in recipe.train_transforms} == {
        ("resize_crop", 0), ("random_flip", 0), ("random_erase", 50)}
    terms = {t.name: t for t in METHOD.loss_terms_for("ccan", recipe)}
    assert {n: t.kwargs["margin"] for n, t in terms.items() if t.loss == "ccan_semi_hard_triplet"} == {
        "triplet_global": margin, "triplet_local": margin}
    assert terms["ce_global"].kwargs == {"output": "logits_global", "label_smooth": 0.1}


@pytest.mark.parametrize("synthetic, enlarged, size", [(False, (288, 144), (256, 128)), (True, (72, 36), (64, 32))])
def test_train_images_are_resized_to_1_125x_and_always_randomly_cropped(synthetic, enlarged, size):
    """Sec. 4.1: resize the original to 288x144, random 256x128 crop (every image), flip; the same
    1.125 ratio on the synthetic protocol's 64x32 input; test images only resized."""
    from PIL import Image
    from torchvision import transforms as T

    from reid_bench.data.transforms import build_test_transform, build_train_transform
    from reid_bench.datasets.synthetic import PROTOCOL as SYNTHETIC
    from reid_bench.recipes import resolve_recipe

    recipe = resolve_recipe(METHOD, SYNTHETIC) if synthetic else METHOD.paper_recipe(protocol("market1501"))
    assert tuple(recipe.input_size) == size
    transform = build_train_transform(recipe, recipe.input_size)
    transform.set_epoch(0)  # before random erasing starts
    first, _ = transform.steps[0]
    resize, crop = first.transforms  # no resize to the input size in front of it
    assert (tuple(resize.size), tuple(crop.size)) == (enlarged, size)
    mean = torch.tensor(recipe.norm_mean).view(3, 1, 1)
    std = torch.tensor(recipe.norm_std).view(3, 1, 1)
    generator = torch.Generator().manual_seed(0)
    image = Image.fromarray((torch.rand(150, 61, 3, generator=generator) * 255).to(torch.uint8).numpy())
    resized = T.ToTensor()(T.Resize(enlarged)(image))
    torch.manual_seed(0)
    offsets = set()
    for _ in range(8):
        output = transform(image) * std + mean  # undo the normalisation
        assert output.shape == (3, *size)
        found = [(top, left, flip)
                 for flip in (False, True)
                 for top in range(enlarged[0] - size[0] + 1)
                 for left in range(enlarged[1] - size[1] + 1)
                 if torch.allclose(output.flip(2) if flip else output,
                                   resized[:, top:top + size[0], left:left + size[1]], atol=1e-5)]
        assert len(found) == 1, "every training image is a crop of the 1.125x resize of the original"
        offsets.add(found[0][:2])
    assert len(offsets) > 2
    test = build_test_transform(recipe, recipe.input_size)(image) * std + mean
    torch.testing.assert_close(test, T.ToTensor()(T.Resize(size)(image)), atol=1e-5, rtol=0)


def test_registration(plugins):
    assert not [p for p in plugins.problems if p.plugin == "ccan"]
    assert plugins.models.get("ccan") is build_ccan
    assert plugins.losses.get("ccan_semi_hard_triplet") is SemiHardTripletTerm
    method = plugins.methods.get("ccan")
    assert set(method.variants) == {"G", "L", "G+L", "G+SS", "G+L+CC", "ccan"}
    assert method.default_variant == "ccan"
    assert reported_for(method, "market1501")[0].metrics == {"mAP": 87.0, "R1": 94.6}
    assert reported_for(method, "market1501", "G+L+CC")[0].metrics == {"mAP": 85.6, "R1": 94.3}
    assert [t.name for t in method.loss_terms_for("L")] == ["ce_local", "triplet_local"]


def test_cli_run_writes_a_record(short_run):
    record = short_run("ccan")
    assert (record["method"], record["variant"], record["protocol"]) == ("ccan", "ccan", "synthetic")
    assert record["input_size"] == [64, 32] and record["pretrained"] is False
    assert set(record["metrics"]) == {"mAP", "mINP", "R1", "R5", "R10", "R20"}
    assert record["params"] > 20e6 and record["flops"] > 0
