"""Reading and writing media: images with Pillow, audio and video with PyAV. numpy in and out.

Every reader raises :class:`ncodec.errors.InputError` with one line naming the file and the reason
when it cannot or will not read something; writers raise :class:`ncodec.errors.UsageError` for an
unsupported extension or a malformed array. Policies (channels, bit depth, limits, colour
conventions) are described in each submodule's docstring.
"""

from ncodec.media.audio import (
    MAX_AUDIO_SECONDS,
    MAX_CHANNELS,
    AudioData,
    read_audio,
    resample,
    to_mono,
    write_audio,
)
from ncodec.media.image import MAX_PIXELS, ImageData, is_image, read_image, write_image
from ncodec.media.probe import OUTPUT_EXTENSIONS, Modality, detect_modality, output_modality
from ncodec.media.video import (
    MAX_FRAME_PIXELS,
    MAX_FRAMES,
    VideoData,
    YUVPlanes,
    read_video,
    read_video_yuv420,
    rgb_to_yuv420,
    write_video,
    yuv420_to_rgb,
)

__all__ = [
    "MAX_AUDIO_SECONDS",
    "MAX_CHANNELS",
    "MAX_FRAMES",
    "MAX_FRAME_PIXELS",
    "MAX_PIXELS",
    "OUTPUT_EXTENSIONS",
    "AudioData",
    "ImageData",
    "Modality",
    "VideoData",
    "YUVPlanes",
    "detect_modality",
    "is_image",
    "output_modality",
    "read_audio",
    "read_image",
    "read_video",
    "read_video_yuv420",
    "resample",
    "rgb_to_yuv420",
    "to_mono",
    "write_audio",
    "write_image",
    "write_video",
    "yuv420_to_rgb",
]
