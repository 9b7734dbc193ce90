"""The Personalize data contract: each dataset's columns, their order and Avro types.

The CSV header order, the DataFrame column order and the uploaded schema's field order
all come from here, so they cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Field:
    name: str
    avro_type: str  # "string", "long", "int", "float"
    nullable: bool = False
    categorical: bool = False

    def avro(self) -> dict:
        spec: dict = {"name": self.name, "type": ["null", self.avro_type] if self.nullable else self.avro_type}
        if self.categorical:
            spec["categorical"] = True
        return spec


@dataclass(frozen=True)
class DatasetContract:
    dataset_type: str  # Personalize's datasetType and the Avro record name
    fields: tuple[Field, ...] = field(default_factory=tuple)

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    def avro_schema(self) -> dict:
        return {
            "type": "record",
            "name": self.dataset_type,
            "namespace": "com.amazonaws.personalize.schema",
            "fields": [f.avro() for f in self.fields],
            "version": "1.0",
        }

    def avro_json(self) -> str:
        return json.dumps(self.avro_schema(), indent=2)


INTERACTIONS = DatasetContract(
    "Interactions",
    (
        Field("USER_ID", "string"),
        Field("ITEM_ID", "string"),
        Field("TIMESTAMP", "long"),
        Field("EVENT_TYPE", "string"),
        Field("EVENT_VALUE", "float"),
    ),
)

ITEMS = DatasetContract(
    "Items",
    (
        Field("ITEM_ID", "string"),
        Field("GENRES", "string", categorical=True),
        Field("YEAR", "int", nullable=True),
    ),
)
