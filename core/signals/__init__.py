"""Per-creative signals. `base.py` is the plug-in point (a `Signal` declares its columns, how it is computed
from the creative's frame, its document words and its detail); today's signals live one per file:
OCR text (`ocr.py`), object labels (`labels.py`), pHash and colours (`colors.py`), layout words
(`layout.py`), people (`people.py`) and composition (`composition.py`). Model wrappers used by the core pass:
`visual.py` (image embeddings and labels, with `label_groups.py`'s everyday group words), `ocr.py`
(RapidOCR), `text.py` (document embeddings)."""
