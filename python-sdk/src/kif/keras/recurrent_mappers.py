"""Keras recurrent classes beyond SimpleRNN/LSTM/GRU: ConvLSTM1D/2D/3D (one KIF type each)."""

from __future__ import annotations

from kif.keras.layer_mappers import _rnn_inputs
from kif.keras.mapping import Context, MappedLayer, assign_weights, generic_attributes, mapper

CONV_LSTM = ("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")


@mapper(*CONV_LSTM)
def _conv_lstm(ctx: Context) -> list[MappedLayer]:
    class_name = ctx.node.class_name
    if ctx.config.get("stateful"):
        raise ctx.fail("option stateful=True carries state between calls, which a KIF graph cannot represent")
    attrs = generic_attributes(ctx, class_name, extra_ignored={"cell"})
    weights = assign_weights(ctx, class_name, attrs)
    x, inputs = _rnn_inputs(ctx, 2)
    count = 3 if attrs["return_state"] else 1
    mask = ctx.mask_of(x) if attrs["return_sequences"] else None
    return [MappedLayer(class_name, attrs, inputs, [ctx.output(i) for i in range(count)], weights, output_mask=mask)]
