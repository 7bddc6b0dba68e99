/** The tool objects, one of each, by name. */
import type { AnnotationTool, ToolName } from '../tool';
import { BoxTool } from './box-tool';
import { BrushTool } from './brush-tool';
import { PolygonTool } from './polygon-tool';
import { SamTool } from './sam-tool';
import { SelectTool } from './select-tool';

export function createTools(): Record<ToolName, AnnotationTool> {
  return { select: new SelectTool(), box: new BoxTool(), polygon: new PolygonTool(), brush: new BrushTool(false), eraser: new BrushTool(true), sam: new SamTool() };
}
