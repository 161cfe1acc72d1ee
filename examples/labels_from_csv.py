"""Labels from a CSV file of ``image_name,label`` rows; the file order is reshuffled every epoch.

Run: python examples/labels_from_csv.py
"""

from __future__ import annotations

from _common import make_photo_folder, write_labels_csv

import kerasimg

folder = make_photo_folder(per_class=12)
csv_path = write_labels_csv(folder, folder / "labels.csv")
print("first rows of", csv_path.name, ":", csv_path.read_text().splitlines()[:3])

ds = kerasimg.data.from_csv(csv_path, image_dir=folder, image_size=(64, 64), batch_size=8, seed=3)
print("classes:", ds.class_names)
for epoch in range(2):
    labels = [int(v) for _, batch_labels in ds for v in batch_labels.numpy()]
    print(f"epoch {epoch + 1}: first labels {labels[:12]} ({len(labels)} images)")
