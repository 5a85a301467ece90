"""Model fields for geocluster's cell types, quadkey and geohash.

Both fields hold the cell's text form in Python ('0313', 'u09t'), which is also the order of
the database values, and check it before it reaches the database; the database checks it
again on input (SQLSTATE 22P02). The column type is the extension's type, so the extension
must exist (CREATE EXTENSION geocluster) before the migration that creates such a column, and
its schema must be on the search_path.

Lookups, besides exact/in/lt/gt/...:
    contained_by   cell <@ value   the cell lies inside value (value itself included)
    contains       cell @> value   the cell holds value
    overlap        cell && value   one holds the other
contained_by is the drill-down query; a btree index of the column serves it.
"""
import re

from django.core import exceptions
from django.db import models
from django.db.models import Lookup


class _CellField(models.Field):
    # psycopg2 returns the text form of a type it does not know, so reading needs no code.
    cell_type = None      # the SQL type
    pattern = None        # a compiled regex for the text form
    syntax = None         # what the pattern accepts, for messages

    def db_type(self, connection):
        return self.cell_type

    def _check_text(self, value, error):
        if not isinstance(value, str):
            raise error(f'{self.cell_type} value must be text, got {type(value).__name__}')
        if not self.pattern.fullmatch(value):
            raise error(f'invalid {self.cell_type} {value!r}: {self.syntax}')
        return value

    def to_python(self, value):
        if value is None:
            return None
        return self._check_text(value, exceptions.ValidationError)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None:
            return None
        return self._check_text(value, ValueError)

    def formfield(self, **kwargs):
        from django import forms
        return super().formfield(**{'form_class': forms.CharField, **kwargs})


class QuadkeyField(_CellField):
    """A Web Mercator tile: one digit 0-3 per level, up to 29 ('' is the whole world)."""
    description = 'quadkey (Web Mercator tile)'
    cell_type = 'quadkey'
    pattern = re.compile(r'[0-3]{0,29}')
    syntax = 'up to 29 digits 0-3'


class GeohashField(_CellField):
    """A geohash cell: up to 12 characters of the geohash base-32 alphabet."""
    description = 'geohash cell'
    cell_type = 'geohash'
    pattern = re.compile(r'[0-9b-hjkmnp-z]{0,12}')
    syntax = 'up to 12 characters of 0-9 b-h j k m n p-z'


class _CellOperator(Lookup):
    operator = None

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        # The cast picks the cell-to-cell operator (there is also cell <@ cell[]).
        cell_type = self.lhs.output_field.db_type(connection)
        return f'{lhs} {self.operator} ({rhs})::{cell_type}', [*lhs_params, *rhs_params]


@QuadkeyField.register_lookup
@GeohashField.register_lookup
class ContainedBy(_CellOperator):
    lookup_name = 'contained_by'
    operator = '<@'


@QuadkeyField.register_lookup
@GeohashField.register_lookup
class Contains(_CellOperator):
    lookup_name = 'contains'
    operator = '@>'


@QuadkeyField.register_lookup
@GeohashField.register_lookup
class Overlap(_CellOperator):
    lookup_name = 'overlap'
    operator = '&&'
