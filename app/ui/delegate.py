"""Paints one library tile: the thumbnail, a coloured score badge, stars and the pick/reject flag."""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.ui import format as fmt
from app.ui.photo_model import Roles

MARGIN = 6
LABEL = 20  # the file name line under the thumbnail
ASPECT = 0.75  # the picture area is 4:3, the shape of most photos; portraits fit its height


class TileDelegate(QStyledItemDelegate):
    def __init__(self, tile: int = 200, good: float = 5.5, cull: float = 4.0, parent=None):
        super().__init__(parent)
        self.tile = tile
        self.good = good
        self.cull = cull

    def set_tile(self, tile: int) -> None:
        self.tile = tile

    def picture_height(self) -> int:
        return round(self.tile * ASPECT)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(self.tile + 2 * MARGIN, self.picture_height() + 2 * MARGIN + LABEL)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        cell = QRectF(rect.adjusted(2, 2, -2, -2))
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(cell, 6, 6)
        elif hovered:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.AlternateBase))
            painter.drawRoundedRect(cell, 6, 6)

        area = QRect(rect.x() + MARGIN, rect.y() + MARGIN, self.tile, self.picture_height())
        status = index.data(Roles.Status) or "unscored"
        pixmap = index.data(Roles.Thumbnail)
        dim = status in ("missing", "offline") or index.data(Roles.Flag) == "reject"
        if pixmap is not None and not pixmap.isNull():
            size = pixmap.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(area.center())
            if dim:
                painter.setOpacity(0.35)
            painter.drawPixmap(target, pixmap)
            painter.setOpacity(1.0)
            image_rect = target
        else:
            image_rect = area.adjusted(area.width() // 10, area.height() // 6, -area.width() // 10, -area.height() // 6)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Mid).lighter(130))
            painter.drawRoundedRect(QRectF(image_rect), 4, 4)
            if index.data(Roles.ThumbnailFailed):
                painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
                painter.drawText(image_rect, Qt.AlignmentFlag.AlignCenter, "no preview")

        self._badge(painter, image_rect, status, index.data(Roles.Score))
        self._marks(painter, image_rect, index.data(Roles.Rating) or 0, index.data(Roles.Flag) or "")

        label = QRect(rect.x() + MARGIN, area.bottom() + 2, self.tile, LABEL)
        painter.setPen(palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        font = QFont(option.font)
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        painter.setFont(font)
        name = index.data(Qt.ItemDataRole.DisplayRole) or ""
        painter.drawText(label, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideMiddle, label.width()))
        painter.restore()

    def _badge(self, painter: QPainter, image: QRect, status: str, score: float | None) -> None:
        paint_badge(painter, image, status, score, self.good, self.cull, self.tile)

    def _marks(self, painter: QPainter, image: QRect, rating: int, flag: str) -> None:
        paint_marks(painter, image, rating, flag, self.tile)


def paint_badge(painter: QPainter, image: QRect, status: str, score: float | None, good: float, cull: float,
                tile: int) -> None:
    """The coloured score pill in the bottom-left corner of a picture (sized for a tile this wide)."""
    text, colour = fmt.badge(status, score, good, cull)
    font = QFont(painter.font())
    font.setBold(True)
    font.setPointSizeF(max(8.0, min(14.0, tile / 18)))
    painter.setFont(font)
    fm = painter.fontMetrics()
    h = fm.height() + 4
    w = max(h, fm.horizontalAdvance(text) + 12)
    box = QRectF(image.left() + 5, image.bottom() - h - 4, w, h)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 90))
    painter.drawRoundedRect(box.translated(0, 1), h / 2, h / 2)
    painter.setBrush(colour)
    painter.drawRoundedRect(box, h / 2, h / 2)
    painter.setPen(QColor("white"))
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


def paint_marks(painter: QPainter, image: QRect, rating: int, flag: str, tile: int) -> None:
    """The pick/reject disc in the top-right corner and the stars along the bottom-right."""
    if flag:
        r = max(9.0, tile / 16)
        centre = QPointF(image.right() - r - 5, image.top() + r + 5)
        painter.setPen(QPen(QColor("white"), 2))
        painter.setBrush(fmt.PICK if flag == "pick" else fmt.REJECT)
        painter.drawEllipse(centre, r, r)
        painter.setPen(QPen(QColor("white"), max(2.0, r / 4), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        if flag == "pick":
            path = QPainterPath(centre + QPointF(-r * 0.45, 0))
            path.lineTo(centre + QPointF(-r * 0.1, r * 0.4))
            path.lineTo(centre + QPointF(r * 0.5, -r * 0.4))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
        else:
            d = r * 0.4
            painter.drawLine(centre + QPointF(-d, -d), centre + QPointF(d, d))
            painter.drawLine(centre + QPointF(-d, d), centre + QPointF(d, -d))
    if rating:
        size = max(8.0, tile / 20)
        x = image.right() - 5 - rating * (size + 2)
        y = image.bottom() - size - 8
        painter.setPen(QPen(QColor(0, 0, 0, 120), 1))
        painter.setBrush(QColor("#facc15"))
        for i in range(rating):
            painter.drawPolygon(_star(QPointF(x + i * (size + 2) + size / 2, y + size / 2), size / 2))


def _star(centre: QPointF, radius: float) -> QPolygonF:
    import math

    points = []
    for i in range(10):
        r = radius if i % 2 == 0 else radius * 0.45
        a = -math.pi / 2 + i * math.pi / 5
        points.append(QPointF(centre.x() + r * math.cos(a), centre.y() + r * math.sin(a)))
    return QPolygonF(points)
