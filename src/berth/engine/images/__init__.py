"""The image service: images, tags, import/bootstrap and container root filesystems."""

from berth.engine.images.image import Image
from berth.engine.images.service import ImageService

__all__ = ["Image", "ImageService"]
