"""Paper identity (transforms/ids.py)."""

import pytest
from papertrends.transforms.ids import paper_id, synthetic_paper_id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2505.19147", "2505.19147"),
        ("2202.12139v1", "2202.12139"),
        ("0704.0001", "0704.0001"),
        ("1501.0001v12", "1501.0001"),
        ("arXiv:2401.01234v3", "2401.01234"),
        ("http://arxiv.org/abs/2202.12139v1", "2202.12139"),
        ("https://arxiv.org/pdf/2202.12139v2.pdf", "2202.12139"),
        ("http://arxiv.org/abs/cond-mat/0412498v1", "cond-mat/0412498"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("  2505.19147 ", "2505.19147"),
        ("not-an-id", None),
        ("2505.1", None),
        ("", None),
        (None, None),
    ],
)
def test_paper_id(raw, expected):
    assert paper_id(raw) == expected


def test_synthetic_ids_depend_only_on_title_words():
    a = synthetic_paper_id("Image Inpainting via Tractable Steering")
    assert a == synthetic_paper_id("image inpainting  via tractable-steering")
    assert a != synthetic_paper_id("Image Inpainting via Tractable Steering of Diffusion Models")
    assert a.startswith("title:") and len(a) == len("title:") + 16
