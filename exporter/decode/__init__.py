"""Decode: the wire format of stream entries, turned into typed records or counted rejections."""
