#include <string.h>

#include "panoptes/detection.h"

static const char *const coco_labels[PAN_COCO_CLASSES] = {
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
};

const char *pan_coco_label(int class_id)
{
    if (class_id < 0 || class_id >= PAN_COCO_CLASSES) return "unknown";
    return coco_labels[class_id];
}

int pan_coco_class(const char *label)
{
    for (int i = 0; i < PAN_COCO_CLASSES; i++)
        if (!strcmp(coco_labels[i], label)) return i;
    return -1;
}

const char *pan_track_state_name(pan_track_state state)
{
    switch (state) {
    case PAN_TRACK_TENTATIVE: return "tentative";
    case PAN_TRACK_CONFIRMED: return "confirmed";
    case PAN_TRACK_LOST: return "lost";
    case PAN_TRACK_REMOVED: return "removed";
    }
    return "unknown";
}
